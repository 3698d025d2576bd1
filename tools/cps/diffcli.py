# SPDX-License-Identifier: Apache-2.0
"""``cps diff OLD [NEW]``: what changed between two versions of the specification.

OLD and NEW are each one of

* ``draft``: the working tree (``spec/`` and ``schemas/`` of the repository);
* a released version ``X.Y.Z`` (or ``vX.Y.Z``): the frozen copy ``releases/X.Y.Z/`` when there
  is one, else the git tag ``vX.Y.Z`` or ``cps-X.Y.Z``; ``latest`` is the newest of them by
  semantic-version precedence (a pre-release counts when it is the newest);
* ``git:REF``: any git revision (branch, tag, commit, ``HEAD~1``), read with ``git archive``;
* a directory: another checkout of this repository (any directory holding ``spec/cps.yaml``).

Both sides are loaded with :func:`cps.loader.load` and compared by
:mod:`cps.differ`. A loaded side is cached in ``.cache/cps-diff/`` under a hash of its source
files and of the toolkit (``--no-cache`` skips the cache).

Exit status: 0, or 1 when a change at or above ``--fail-on`` (default ``breaking``) is not
accepted in ``.cps-accepted-changes.yaml``; 2 for usage errors (unknown version, bad file).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cps import differ

ACCEPTED_FILE = ".cps-accepted-changes.yaml"
CACHE_DIR = Path(".cache") / "cps-diff"
FORMATS = ("text", "markdown", "json", "github")
FAIL_ON = ("breaking", "any", "none")
_VERSION_RE = re.compile(r"^v?(?P<v>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")


class DiffUsageError(Exception):
    """Bad input: the message names what was not found or is wrong (exit 2)."""


@dataclass
class Side:
    spec: str  # as given on the command line
    kind: str  # draft | release | tag | git | path
    source: str  # human description: "releases/1.0.0", "tag v1.0.0 (3f2a1b9)", "working tree"
    root: Path | None = None  # directory to load (None until extracted, for git sides)
    prefix: str | None = None  # path of root relative to the repository, when inside it ("" for draft)
    git_ref: str | None = None
    key: str | None = None  # cache key
    snapshot: dict[str, Any] | None = None
    tmp: str | None = None

    def info(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "source": self.source,
                "version": (self.snapshot or {}).get("version")}


# ----------------------------------------------------------------------------- sides


def _git(repo: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=not binary, check=False)
    except FileNotFoundError:
        raise DiffUsageError("git is not installed, so git revisions cannot be read") from None


def _commit(repo: Path, ref: str) -> str | None:
    try:
        r = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except DiffUsageError:
        return None
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def _tags(repo: Path) -> list[str]:
    try:
        r = _git(repo, "tag", "--list")
    except DiffUsageError:  # no git: releases/ directories still work
        return []
    return r.stdout.split() if r.returncode == 0 else []


def _released_versions(repo: Path) -> dict[str, tuple[str, str]]:
    """version -> (kind, where) for every release directory and release tag."""
    from cps import versions

    found: dict[str, tuple[str, str]] = {}
    for t in _tags(repo):
        for pre in ("cps-", "v"):
            if t.startswith(pre) and versions.parse(t[len(pre):]):
                found.setdefault(t[len(pre):], ("tag", t))
    for v in versions.released(repo):
        found[v] = ("release", f"{versions.RELEASES_DIR}/{v}")
    return found


def resolve(spec: str, repo: Path) -> Side:
    """Turn a command-line version argument into a :class:`Side` (not loaded yet)."""
    from cps import versions

    if spec == "draft":
        return Side(spec, "draft", "working tree", root=repo, prefix="")
    if spec.startswith("git:"):
        ref = spec[4:]
        if not ref:
            raise DiffUsageError("git: needs a revision, e.g. git:HEAD or git:main")
        commit = _commit(repo, ref)
        if commit is None:
            raise DiffUsageError(f"{spec}: git revision {ref!r} not found in {repo}")
        return Side(spec, "git", f"git {ref} ({commit[:10]})", git_ref=commit)
    if spec == "latest":
        found = _released_versions(repo)
        if not found:
            raise DiffUsageError(f"latest: no release found (no {versions.RELEASES_DIR}/X.Y.Z/ directory and no tag vX.Y.Z or cps-X.Y.Z)")
        spec = str(max((versions.parse(v) for v in found), key=versions.Version.key))
    m = _VERSION_RE.match(spec)
    if m and not Path(spec).is_dir():
        v = m.group("v")
        rel = f"{versions.RELEASES_DIR}/{v}"
        if (repo / rel / "spec" / "cps.yaml").is_file():
            return Side(spec, "release", rel, root=repo / rel, prefix=rel + "/")
        for tag in (f"v{v}", f"cps-{v}"):
            commit = _commit(repo, f"refs/tags/{tag}")
            if commit:
                return Side(spec, "tag", f"tag {tag} ({commit[:10]})", git_ref=commit)
        known = sorted(_released_versions(repo))
        hint = f" (known releases: {', '.join(known)})" if known else " (there are no releases yet)"
        raise DiffUsageError(
            f"version {v} not found: no {rel}/ directory and no git tag v{v} or cps-{v}{hint}"
        )
    path = Path(spec)
    if path.is_dir():
        path = path.resolve()
        if not (path / "spec" / "cps.yaml").is_file():
            raise DiffUsageError(f"{spec}: not a CPS checkout (no spec/cps.yaml in it)")
        try:
            prefix = path.relative_to(repo.resolve()).as_posix()
            prefix = "" if prefix == "." else prefix + "/"
        except ValueError:
            prefix = None
        return Side(spec, "path", str(path), root=path, prefix=prefix)
    hint = f"; did you mean git:{spec}?" if _commit(repo, spec) else ""
    raise DiffUsageError(
        f"{spec!r} not found: expected draft, a released version X.Y.Z, latest, git:REF or a directory{hint}"
    )


def _toolkit_hash() -> str:
    h = hashlib.sha256(f"snapshot-{differ.SNAPSHOT_FORMAT}".encode())
    base = Path(differ.__file__).parent
    for name in ("differ.py", "loader.py", "markdown.py", "model.py", "yamlio.py"):
        try:
            h.update((base / name).read_bytes())
        except OSError:
            pass
    return h.hexdigest()


def _dir_key(root: Path, tk: str) -> str:
    h = hashlib.sha256(tk.encode())
    for top in ("spec", "schemas"):
        base = root / top
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(root).as_posix().encode() + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _git_key(repo: Path, commit: str, tk: str) -> str:
    r = _git(repo, "ls-tree", commit, "--", "spec", "schemas")
    return hashlib.sha256((tk + "\0" + r.stdout).encode()).hexdigest()


def _staging_dir(repo: Path) -> str:
    """A temporary root for one side. Its ``.cache`` links to the repository's, so that the
    loader's parse cache (keyed by file content) serves every side and nothing is written
    into the side itself (a frozen ``releases/X.Y.Z/`` must stay exactly as released)."""
    tmp = tempfile.mkdtemp(prefix="cps-diff-")
    try:
        (repo / ".cache").mkdir(exist_ok=True)
        os.symlink(repo / ".cache", Path(tmp) / ".cache", target_is_directory=True)
    except OSError:
        pass
    return tmp


def _stage(repo: Path, side: Side) -> None:
    """Give a non-draft side its staging root: ``git archive REF spec schemas`` extracted into
    it, or symbolic links to the ``spec/`` and ``schemas/`` of a directory."""
    if side.kind == "draft":
        return
    if side.git_ref is None:
        src = side.root
        side.tmp = _staging_dir(repo)
        for part in ("spec", "schemas"):
            if (src / part).is_dir():
                os.symlink(src.resolve() / part, Path(side.tmp) / part, target_is_directory=True)
        side.root = Path(side.tmp)
        return
    r = _git(repo, "ls-tree", "--name-only", side.git_ref, "--", "spec", "schemas")
    present = [p for p in r.stdout.split() if p in ("spec", "schemas")]
    if "spec" not in present:
        raise DiffUsageError(f"{side.spec}: {side.source} has no spec/ directory")
    side.tmp = _staging_dir(repo)
    a = _git(repo, "archive", "--format=tar", side.git_ref, "--", *present, binary=True)
    if a.returncode != 0:
        raise DiffUsageError(f"{side.spec}: git archive failed: {a.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(a.stdout)) as tar:
        tar.extractall(side.tmp, filter="data")
    side.root = Path(side.tmp)


def _load_snapshot(root: str) -> dict[str, Any]:
    from cps.loader import load

    return differ.snapshot(load(Path(root)))


def _cache_get(cache: Path | None, key: str | None) -> dict[str, Any] | None:
    if cache is None or key is None:
        return None
    try:
        data = json.loads((cache / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == differ.SNAPSHOT_FORMAT else None


def _cache_put(cache: Path | None, key: str | None, snap: dict[str, Any]) -> None:
    if cache is None or key is None:
        return
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(snap, fh, separators=(",", ":"))
        os.replace(tmp, cache / f"{key}.json")
        # keep the cache small: the 32 most recent snapshots
        files = sorted(cache.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in files[:-32]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def load_sides(repo: Path, old: Side, new: Side, use_cache: bool = True) -> None:
    """Fill ``snapshot`` of both sides: from the snapshot cache, else by loading them."""
    cache = repo / CACHE_DIR if use_cache else None
    tk = _toolkit_hash()
    sides = [old, new]
    for s in sides:
        if use_cache:
            s.key = _git_key(repo, s.git_ref, tk) if s.git_ref else _dir_key(s.root, tk)
        s.snapshot = _cache_get(cache, s.key)
    todo = [s for s in sides if s.snapshot is None]
    if len(todo) == 2 and old.key is not None and old.key == new.key:
        todo = [old]
    for s in todo:
        _stage(repo, s)
    # One after the other, the second side finds most files in the loader's parse cache (keyed by
    # content, shared through the staging roots); in parallel only when that cache is off.
    if len(todo) == 2 and (os.cpu_count() or 1) > 1 and os.environ.get("CPS_NO_CACHE"):
        import concurrent.futures
        import multiprocessing

        try:
            ctx = multiprocessing.get_context("fork")
        except ValueError:
            ctx = None
        if ctx is not None:
            with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                fut = pool.submit(_load_snapshot, str(todo[1].root))
                todo[0].snapshot = _load_snapshot(str(todo[0].root))
                todo[1].snapshot = fut.result()
    for s in todo:
        if s.snapshot is None:
            s.snapshot = _load_snapshot(str(s.root))
        _cache_put(cache, s.key, s.snapshot)
    if new.snapshot is None:
        new.snapshot = old.snapshot
    if old.snapshot is None:
        old.snapshot = new.snapshot


def cleanup(*sides: Side) -> None:
    for s in sides:
        if s.tmp:
            shutil.rmtree(s.tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- accepted changes


def read_accepted(path: Path) -> list[dict[str, Any]]:
    """Entries of ``.cps-accepted-changes.yaml``: a YAML list (or a mapping with the list under
    ``accepted``) of ``{fingerprint, rule, reason, accepted_by?}``."""
    from cps.yamlio import parse_yaml, to_plain

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DiffUsageError(f"cannot read accepted changes {path}: {exc.strerror}") from None
    yf, diags = parse_yaml(text, str(path))
    if diags:
        d = diags[0]
        raise DiffUsageError(f"{d.location}: {d.message}")
    data = to_plain(yf.data) if yf else None
    if data is None:
        return []
    if isinstance(data, dict):
        data = data.get("accepted") or []
    if not isinstance(data, list):
        raise DiffUsageError(f"{path}: expected a list of {{fingerprint, rule, reason, accepted_by}} entries")
    out = []
    for i, e in enumerate(data):
        loc = yf.loc(i) if yf and isinstance(yf.data, list) else None
        where = f"{loc}" if loc else f"{path} entry {i + 1}"
        if not isinstance(e, dict):
            raise DiffUsageError(f"{where}: an entry must be a mapping with fingerprint, rule and reason")
        missing = [k for k in ("fingerprint", "rule", "reason") if not e.get(k)]
        if missing:
            raise DiffUsageError(f"{where}: entry lacks {', '.join(missing)}")
        unknown = set(e) - {"fingerprint", "rule", "reason", "accepted_by"}
        if unknown:
            raise DiffUsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        if not re.fullmatch(r"[0-9a-f]{16}", str(e["fingerprint"])):
            raise DiffUsageError(f"{where}: fingerprint {e['fingerprint']!r} is not 16 lower-case hex digits")
        if str(e["rule"]) not in differ.CHANGE_RULES:
            raise DiffUsageError(f"{where}: unknown rule {e['rule']!r} (see `cps diff --list-rules`)")
        out.append({k: str(v) for k, v in e.items()})
    return out


# ----------------------------------------------------------------------------- command


@dataclass
class DiffResult:
    old: Side
    new: Side
    changes: list[differ.Change]
    stale_accepted: list[dict[str, Any]] = field(default_factory=list)
    accepted_file: str | None = None

    @property
    def open_changes(self) -> list[differ.Change]:
        return [c for c in self.changes if c.accepted is None]

    def summary(self) -> dict[str, Any]:
        open_ = self.open_changes
        count = {s: sum(1 for c in open_ if c.severity == s) for s in differ.SEVERITIES}
        return {
            "total": len(open_),
            "breaking": count[differ.BREAKING],
            "non_breaking": count[differ.NON_BREAKING],
            "editorial": count[differ.EDITORIAL],
            "accepted": len(self.changes) - len(open_),
            "breaks_servers": sum(1 for c in open_ if c.severity == differ.BREAKING and c.breaks in ("servers", "both")),
            "breaks_clients": sum(1 for c in open_ if c.severity == differ.BREAKING and c.breaks in ("clients", "both")),
            "bump": differ.required_bump(self.changes),
        }


def run_diff(repo: Path, old_spec: str, new_spec: str, accepted: Path | None = None,
             use_cache: bool = True, warn=None) -> DiffResult:
    """Resolve, load and compare two versions; mark accepted changes."""
    old = resolve(old_spec, repo)
    new = resolve(new_spec, repo)
    try:
        load_sides(repo, old, new, use_cache)
    finally:
        cleanup(old, new)
    for s in (old, new):
        problems = s.snapshot.get("problems") or []
        syntax = [p for p in problems if " YML001 " in p]
        if syntax:
            raise DiffUsageError(f"{s.spec} ({s.source}) cannot be read:\n  " + "\n  ".join(syntax))
        if problems and warn:
            for p in problems:
                warn(f"{s.spec}: {p}")
    changes = differ.compare(old.snapshot, new.snapshot)
    stale: list[dict[str, Any]] = []
    if accepted is not None:
        stale = differ.accept_filter(changes, read_accepted(accepted))
    return DiffResult(old, new, changes, stale, str(accepted) if accepted else None)


def exit_code(result: DiffResult, fail_on: str) -> int:
    open_ = result.open_changes
    if fail_on == "none":
        return 0
    if fail_on == "any":
        return 1 if open_ else 0
    return 1 if any(c.severity == differ.BREAKING for c in open_) else 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "diff",
        help="what changed between two versions of the spec, and how much it breaks",
        description=(
            "Compare two versions of the specification semantically (operations, parameters, bodies, "
            "status and error codes, profiles, requirements) and say which changes break servers or "
            "clients and which version bump they need. OLD and NEW are each: draft (the working tree), "
            "a released version X.Y.Z (releases/X.Y.Z/ or tag vX.Y.Z / cps-X.Y.Z), latest, git:REF, "
            "or a directory holding another checkout."
        ),
        epilog="Exit status: 0 ok; 1 an unaccepted change at or above --fail-on; 2 usage error.",
    )
    p.add_argument("old", nargs="?", metavar="OLD", help="the earlier version, e.g. 1.0.0, latest or git:main")
    p.add_argument("new", nargs="?", default="draft", metavar="NEW", help="the later version (default: draft)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), markdown (a pull-request comment), json, github (workflow annotations)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="breaking",
                   help="exit 1 when an unaccepted change of this severity exists: breaking (default), any, none")
    p.add_argument("--accepted", metavar="FILE", help=f"accepted changes (default: {ACCEPTED_FILE} in the repository)")
    p.add_argument("--show-accepted", action="store_true", help="also list the accepted changes")
    p.add_argument("--no-cache", action="store_true", help="load both versions from source, ignoring .cache/cps-diff/")
    p.add_argument("--list-rules", action="store_true", help="print the table of change rules (Markdown) and exit")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from cps import diffrender
    from cps.cli import UsageError, _root

    if args.list_rules:
        sys.stdout.write(differ.rules_markdown())
        return 0
    if not args.old:
        raise UsageError("cps diff needs OLD (e.g. `cps diff 1.0.0 draft`, `cps diff git:main draft`)")
    repo = _root(args)
    if args.accepted:
        accepted: Path | None = Path(args.accepted)
        if not accepted.is_file():
            raise UsageError(f"--accepted {args.accepted}: no such file")
    else:
        accepted = repo / ACCEPTED_FILE if (repo / ACCEPTED_FILE).is_file() else None
    try:
        result = run_diff(repo, args.old, args.new, accepted, use_cache=not args.no_cache,
                          warn=lambda m: print(f"cps diff: warning: {m}", file=sys.stderr))
    except DiffUsageError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(diffrender.render(result, args.format, show_accepted=args.show_accepted))
    return exit_code(result, args.fail_on)
