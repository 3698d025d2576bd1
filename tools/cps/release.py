# SPDX-License-Identifier: Apache-2.0
"""``cps release X.Y.Z``: stamp the draft with a version and freeze it under ``releases/X.Y.Z/``.

Refuses (exit 1, one clear message) when the checks fail, when the version is not a semantic
version greater than every earlier release, when the differ says the changes since the previous
release need a bigger bump, or when the ``## [Unreleased]`` section of CHANGELOG.md is empty.

Otherwise, in a temporary directory next to the repository:

* the stamped copy of ``spec/``, ``schemas/`` and ``CHANGELOG.md`` is made (OpenAPI
  ``info.version``, every body schema's ``$id``, and ``version``/``status``/``date`` of
  ``spec/cps.yaml``), with ``MANIFEST.sha256``;
* the new CHANGELOG.md is written (the Unreleased entries under ``## [X.Y.Z] - DATE``, a fresh
  empty ``## [Unreleased]`` above).

Then both are renamed into place. The working draft keeps ``version: draft``: the main branch goes
on evolving, and ``releases/X.Y.Z/`` is the citable, immutable text.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cps import versions
from cps.versions import BUMPS, DRAFT, RELEASES_DIR, Version

FROZEN_PARTS = ("spec", "schemas", "CHANGELOG.md")
UNRELEASED_RE = re.compile(r"^## \[Unreleased\][^\n]*\n", re.M | re.I)
SECTION_RE = re.compile(r"^## ", re.M)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Refused(Exception):
    """A release precondition failed; the message says which and what to do."""


# ----------------------------------------------------------------------------- inputs
def release_date(explicit: str | None) -> str:
    if explicit:
        if not DATE_RE.match(explicit):
            raise Refused(f"--date {explicit}: expected YYYY-MM-DD")
        try:
            _dt.date.fromisoformat(explicit)
        except ValueError:
            raise Refused(f"--date {explicit}: not a calendar date") from None
        return explicit
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            return _dt.datetime.fromtimestamp(int(sde), _dt.timezone.utc).date().isoformat()
        except (ValueError, OverflowError):
            raise Refused(f"SOURCE_DATE_EPOCH={sde!r} is not a Unix timestamp") from None
    return _dt.datetime.now(_dt.timezone.utc).date().isoformat()


def split_changelog(text: str) -> tuple[str, str, str]:
    """(head up to and including the Unreleased heading, Unreleased body, rest from the next ## on)."""
    m = UNRELEASED_RE.search(text)
    if not m:
        raise Refused("CHANGELOG.md has no `## [Unreleased]` section; add one listing the changes of this release")
    nxt = SECTION_RE.search(text, m.end())
    end = nxt.start() if nxt else len(text)
    return text[: m.end()], text[m.end():end], text[end:]


def has_entries(body: str) -> bool:
    """True when the Unreleased section says something (sub-headings alone do not count)."""
    for line in body.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and not (s.startswith("<!--") and s.endswith("-->")):
            return True
    return False


def _drop_empty_subheadings(body: str) -> str:
    """Remove ``### Added`` style headings with nothing under them."""
    lines = body.strip("\n").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j >= len(lines) or lines[j].startswith("#"):
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out).strip("\n")


def new_changelogs(text: str, version: str, date: str) -> tuple[str, str]:
    """(CHANGELOG.md of the draft after the release, CHANGELOG.md frozen with the release)."""
    head, body, rest = split_changelog(text)
    if not has_entries(body):
        raise Refused(
            "the `## [Unreleased]` section of CHANGELOG.md is empty; list what changed since the previous "
            "release before releasing"
        )
    section = f"## [{version}] - {date}\n\n{_drop_empty_subheadings(body)}\n"
    rest = ("\n" + rest) if rest else ""
    draft = f"{head}\n{section}{rest}"
    frozen_head = UNRELEASED_RE.sub("", head).rstrip("\n") + "\n\n"
    frozen = f"{frozen_head}{section}{rest}"
    return draft, frozen


# ----------------------------------------------------------------------------- stamping
def _replace_line(text: str, pattern: str, new_line: str, what: str, rel: str) -> str:
    rx = re.compile(pattern, re.M)
    if not rx.search(text):
        raise Refused(f"{rel}: cannot stamp {what} (no line matching {pattern!r})")
    return rx.sub(lambda m: new_line, text, count=1)


def _yaml_scalar(value: str) -> str:
    return f"'{value}'" if re.search(r"[:#\s]", value) or not value else value


def stamp_meta(text: str, version: str, status: str, date: str) -> str:
    rel = "spec/cps.yaml"
    text = _replace_line(text, r"^version:[^\n]*$", f"version: {_yaml_scalar(version)}", "version", rel)
    text = _replace_line(text, r"^status:[^\n]*$", f"status: {_yaml_scalar(status)}", "status", rel)
    if re.search(r"^date:[^\n]*$", text, re.M):
        text = _replace_line(text, r"^date:[^\n]*$", f"date: '{date}'", "date", rel)
    else:
        text = _replace_line(text, r"^(status:[^\n]*)$", f"status: {_yaml_scalar(status)}\ndate: '{date}'", "date", rel)
    return text


def stamp_openapi(text: str, version: str) -> str:
    """Set ``info.version`` (the first indented ``version:`` line below the top-level ``info:``)."""
    m = re.search(r"^info:[ \t]*\n((?:[ \t]+[^\n]*\n|[ \t]*\n)*)", text, re.M)
    if not m:
        raise Refused("schemas/openapi.yaml: no top-level `info:` mapping to stamp")
    block = m.group(1)
    first = re.match(r"(?:[ \t]*\n)*([ \t]+)\S", block)
    indent = re.escape(first.group(1)) if first else r"[ \t]+"
    vm = re.search(rf"^({indent})version:[^\n]*$", block, re.M)
    if not vm:
        raise Refused("schemas/openapi.yaml: `info.version` is missing")
    indent = vm.group(1)
    new_block = block[: vm.start()] + f"{indent}version: {_yaml_scalar(version)}" + block[vm.end():]
    return text[: m.start(1)] + new_block + text[m.end(1):]


def schema_id(site_url: str, version: str, name: str) -> str:
    return f"{site_url.rstrip('/')}/{version}/schemas/{name}.json"


def stamp_schema(text: str, site_url: str, version: str, name: str, rel: str) -> str:
    if not re.search(r"^\$id:", text, re.M):
        return text
    return _replace_line(text, r"^\$id:[^\n]*$", f"$id: {schema_id(site_url, version, name)}", "$id", rel)


def stamp_citation(text: str, version: str, date: str, site_url: str | None = None) -> str:
    """CITATION.cff after a final release: its version (top level and preferred-citation), its
    date, and the permanent address of the version in the preferred citation."""
    text = re.sub(r"^(\s*)version:[^\n]*$", lambda m: f"{m.group(1)}version: {_yaml_scalar(version)}", text, flags=re.M)
    if site_url:
        address = f"{site_url.rstrip('/')}/{version}/"
        text = re.sub(r"^(  +)url:[^\n]*$", lambda m: f"{m.group(1)}url: {address}", text, flags=re.M)
    if re.search(r"^date-released:", text, re.M):
        return re.sub(r"^date-released:[^\n]*$", f"date-released: '{date}'", text, count=1, flags=re.M)
    return re.sub(r"^(version:[^\n]*)$", lambda m: f"{m.group(1)}\ndate-released: '{date}'", text, count=1, flags=re.M)


def stamp_tree(release_dir: Path, version: str, status: str, date: str, site_url: str) -> None:
    meta = release_dir / "spec" / "cps.yaml"
    meta.write_text(stamp_meta(meta.read_text(encoding="utf-8"), version, status, date), encoding="utf-8")
    oas = release_dir / "schemas" / "openapi.yaml"
    if oas.is_file():
        oas.write_text(stamp_openapi(oas.read_text(encoding="utf-8"), version), encoding="utf-8")
    for path in sorted((release_dir / "schemas" / "bodies").glob("*.yaml")):
        rel = path.relative_to(release_dir).as_posix()
        path.write_text(stamp_schema(path.read_text(encoding="utf-8"), site_url, version, path.stem, rel), encoding="utf-8")


# ----------------------------------------------------------------------------- bump
def diff_changes(root: Path, old: str):
    """Changes from release ``old`` to the draft, or None when the differ is not installed."""
    try:
        from cps import differ
    except ModuleNotFoundError as exc:
        if exc.name != "cps.differ":
            raise
        return None
    from cps.loader import load

    return differ.diff_specs(versions.load_release(root, old), load(root))


def required_bump(root: Path, old: str) -> tuple[str | None, str]:
    """(bump the changes from release ``old`` to the draft need, summary); (None, why) without a differ."""
    changes = diff_changes(root, old)
    if changes is None:
        return None, "the differ (cps.differ) is not installed, so the required bump was not computed"
    from cps import differ

    bump = differ.required_bump(changes)
    if bump not in BUMPS:
        return None, f"the differ answered {bump!r}, which is not one of {', '.join(BUMPS)}"
    return bump, _summarise(sorted(changes, key=lambda c: c.sort_key()))


def _summarise(changes) -> str:
    lines = [f"  - {c.severity}: {c.message} [{c.rule}]" for c in changes[:20]]
    if len(changes) > 20:
        lines.append(f"  - ... and {len(changes) - 20} more")
    return "\n".join(lines)


def check_bump(root: Path, new: Version, earlier: list[str], out) -> None:
    """Refuse when the differ says the draft needs a bigger bump than ``new`` gives."""
    if not earlier:
        return
    prev = versions.parse(earlier[-1])
    final = versions.latest_final(earlier)
    bases: list[Version] = []
    if final is not None:
        bases.append(versions.parse(final))
    if prev.is_prerelease and prev.core != new.core and prev not in bases:
        bases.append(prev)
    for base in bases:
        try:
            need, note = required_bump(root, str(base))
        except Exception as exc:  # a bug in the differ must not leave a half-made release
            raise Refused(f"could not compare the draft with release {base}: {type(exc).__name__}: {exc}") from None
        if need is None:
            print(f"note: {note}.", file=out)
            return
        have = versions.bump_between(base, new)
        if BUMPS.index(have) < BUMPS.index(need):
            suggestion = versions.next_version(base, need)
            raise Refused(
                f"the changes since {base} need a {need} version bump, but {base} -> {new} is "
                f"{'no' if have == 'none' else 'a ' + have} bump; release {suggestion} instead"
                + (f" (or {Version(*base.core)}, the final version of pre-release {base})" if base.is_prerelease else "")
                + (f"\n{note}" if note else "")
                + f"\n(see `cps diff {base} draft`)"
            )
        print(f"Changes since {base} need a {need} bump; {base} -> {new} is {'no bump' if have == 'none' else 'a ' + have + ' bump'}: fine.", file=out)


def skipped(new: Version, earlier: list[str]) -> str | None:
    """The version ``new`` jumps over, if it is not a direct successor of the releases so far."""
    if not earlier:
        return None
    last = versions.parse(earlier[-1])
    final = versions.latest_final(earlier)
    candidates = {last.core} if last.is_prerelease else set()
    base = versions.parse(final) if final else None
    if base is not None:
        candidates |= {versions.next_version(base, b).core for b in ("major", "minor", "patch")}
    if new.core in candidates or (base is None and not last.is_prerelease):
        return None
    if last.is_prerelease and base is None:
        return f"{Version(*last.core)} (the final version of {last})" if new.core > last.core else None
    expected = sorted(candidates)
    return "the next version number (" + " or ".join(".".join(map(str, c)) for c in expected) + ")"


# ----------------------------------------------------------------------------- release
def release(root: Path, version_text: str, date: str | None = None, tag: bool = False, out=sys.stdout) -> int:
    from cps.cli import all_checks, print_diagnostics
    from cps.diagnostics import has_errors
    from cps.frozen import write_manifest
    from cps.loader import load

    new = versions.parse(version_text)
    if new is None:
        raise Refused(f"{version_text!r} is not a semantic version (X.Y.Z or X.Y.Z-rc.N, see https://semver.org)")
    earlier = versions.released(root)
    if version_text in earlier or (root / RELEASES_DIR / version_text).exists():
        raise Refused(f"{version_text} is already released (releases/{version_text}/ exists); releases are never replaced")
    if earlier:
        last = versions.parse(earlier[-1])
        if not new > last:
            raise Refused(f"{new} is not greater than the last release {last}; versions only go up")
    spec = load(root)
    if spec.version != DRAFT:
        raise Refused(f"spec/cps.yaml has version {spec.version!r}; releases are cut from the working draft (version: draft)")
    diags = all_checks(spec)
    if has_errors(diags):
        print_diagnostics(diags, "human", root)
        raise Refused("the checks fail; fix every error before releasing")
    changelog = root / "CHANGELOG.md"
    if not changelog.is_file():
        raise Refused("CHANGELOG.md is missing; it needs a `## [Unreleased]` section listing the changes")
    day = release_date(date)
    draft_changelog, frozen_changelog = new_changelogs(changelog.read_text(encoding="utf-8"), str(new), day)
    check_bump(root, new, earlier, out)
    gap = skipped(new, earlier)
    if gap:
        print(f"note: {new} skips {gap}; that is allowed, but check that it is the number you meant.", file=out)

    status = versions.status_label(str(new))
    site_url = str(spec.meta.get("site_url") or "https://example.invalid/")
    cache = root / ".cache"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="release-", dir=cache) as tmpname:
        tmp = Path(tmpname)
        frozen = tmp / str(new)
        frozen.mkdir()
        for part in FROZEN_PARTS:
            src = root / part
            if src.is_dir():
                shutil.copytree(src, frozen / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
            elif part != "CHANGELOG.md" and not src.exists():
                raise Refused(f"{part}/ is missing")
        (frozen / "CHANGELOG.md").write_text(frozen_changelog, encoding="utf-8")
        stamp_tree(frozen, str(new), status, day, site_url)
        # The stamped copy must still be a valid specification.
        from cps.checks import run_checks

        stamped = versions.load_tree(frozen, root)
        bad = [d for d in run_checks(stamped) if d.severity == "error"]
        if bad:
            print_diagnostics(bad, "human", frozen)
            raise Refused("the stamped copy does not pass the checks (a bug in cps release: please report it)")
        if stamped.version != str(new):
            raise Refused(f"stamping failed: the copy says version {stamped.version!r}")
        shutil.rmtree(frozen / ".cache", ignore_errors=True)  # tool caches written by the checks
        write_manifest(frozen)
        new_cl = tmp / "CHANGELOG.md"
        new_cl.write_text(draft_changelog, encoding="utf-8")
        citation = root / "CITATION.cff"
        new_cff = None
        if citation.is_file() and not new.is_prerelease:
            new_cff = tmp / "CITATION.cff"
            new_cff.write_text(stamp_citation(citation.read_text(encoding="utf-8"), str(new), day, site_url), encoding="utf-8")
        # Everything is written: move it into place (two renames on one file system).
        target = root / RELEASES_DIR / str(new)
        target.parent.mkdir(exist_ok=True)
        frozen.rename(target)
        try:
            os.replace(new_cl, changelog)
        except OSError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        if new_cff is not None:
            os.replace(new_cff, citation)
    n = sum(1 for p in target.rglob("*") if p.is_file())
    print(f"Released {spec.short_name} {new} ({status}, {day}): froze {n} files in {RELEASES_DIR}/{new}/ "
          f"({len(stamped.requirements)} requirements); CHANGELOG.md has a new empty [Unreleased] section.", file=out)
    changed = [f"{RELEASES_DIR}/{new}", "CHANGELOG.md", *(["CITATION.cff"] if new_cff is not None else [])]
    commit = ["git", "add", "--", *changed]
    tag_cmd = ["git", "tag", "-a", f"v{new}", "-m", f"{spec.short_name} {new}"]
    if tag:
        for cmd in (commit, ["git", "commit", "-q", "-m", f"Release {spec.short_name} {new}", "--", *changed], tag_cmd):
            r = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"cps release: `{' '.join(cmd)}` failed: {r.stderr.strip()}", file=sys.stderr)
                return 1
        print(f"Committed and tagged v{new}. Push with: git push origin v{new}", file=out)
    else:
        print("Next steps:", file=out)
        print(f"  git add {' '.join(changed)} && git commit -m 'Release {spec.short_name} {new}'", file=out)
        print(f"  git tag -a v{new} -m '{spec.short_name} {new}' && git push origin v{new}", file=out)
    return 0


# ----------------------------------------------------------------------------- CLI plugin
def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "release",
        help="stamp the draft with a version and freeze it under releases/<version>/",
        description="Stamp the working draft with VERSION and freeze it under releases/VERSION/. "
        "Refuses when checks fail, the version does not go up, the bump is too small for the "
        "changes, or CHANGELOG.md's Unreleased section is empty.",
    )
    p.add_argument("version", metavar="VERSION", help="semantic version, e.g. 1.0.0 or 1.0.0-rc.1")
    p.add_argument("--date", help="release date YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else today in UTC)")
    p.add_argument("--tag", action="store_true", help="also commit the release and create the git tag vVERSION")
    p.set_defaults(func=run)


def run(args) -> int:
    from cps.cli import _root

    root = _root(args)
    try:
        return release(root, args.version, date=args.date, tag=args.tag)
    except Refused as exc:
        print(f"cps release: refused: {exc}", file=sys.stderr)
        return 1
