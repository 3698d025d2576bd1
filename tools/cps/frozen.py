# SPDX-License-Identifier: Apache-2.0
"""Frozen releases: ``releases/<version>/`` never changes once ``cps release`` wrote it.

Each release directory carries ``MANIFEST.sha256`` (``sha256sum`` format: the digest of every
other file of the release). ``cps check`` verifies every release against its manifest
(REL001) and makes sure no requirement ID of a release silently disappears from the draft
(REL002): a requirement that is dropped must be listed in ``retired_ids`` of ``spec/cps.yaml``.

Verify a release by hand with ``cd releases/1.0.0 && sha256sum -c MANIFEST.sha256``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

from cps.diagnostics import Diagnostic, Location, rule
from cps.model import Spec
from cps.versions import RELEASES_DIR, parse

MANIFEST = "MANIFEST.sha256"
# Tool caches that git ignores (.gitignore) and that are never part of a release.
IGNORED_DIRS = {".cache", "__pycache__"}

RELEASE_MODIFIED = rule(
    "REL001",
    "release-modified",
    "A file of a frozen release (releases/<version>/) was changed, added or removed after the release.",
)
RETIRED_ID_RESTORED = rule(
    "REL003",
    "retired-id-restored",
    "An ID retired in a release is no longer listed in retired_ids of the draft (retired IDs stay retired).",
)
RELEASED_ID_DROPPED = rule(
    "REL002",
    "released-id-dropped",
    "A requirement ID of a release is missing from the draft and not listed in retired_ids.",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def release_files(directory: Path) -> list[str]:
    """Every file of a release directory except the manifest, as sorted POSIX paths."""
    out = []
    for p in directory.rglob("*"):
        if p.is_file() and not p.is_symlink():
            rel = p.relative_to(directory).as_posix()
            if rel != MANIFEST and not IGNORED_DIRS.intersection(rel.split("/")[:-1]):
                out.append(rel)
    return sorted(out)


def manifest_text(directory: Path) -> str:
    return "".join(f"{_sha256(directory / rel)}  {rel}\n" for rel in release_files(directory))


def write_manifest(directory: Path) -> Path:
    path = directory / MANIFEST
    path.write_text(manifest_text(directory), encoding="utf-8", newline="\n")
    return path


def read_manifest(path: Path) -> tuple[dict[str, tuple[str, int]], list[int]]:
    """{relative path: (digest, line)} and the numbers of malformed lines."""
    entries: dict[str, tuple[str, int]] = {}
    bad: list[int] = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not rel:
            bad.append(n)
            continue
        entries[rel.lstrip("*")] = (digest, n)
    return entries, bad


def verify(directory: Path) -> tuple[list[str], list[str], list[str]]:
    """(changed, added, removed) files of a release directory against its manifest."""
    entries, _ = read_manifest(directory / MANIFEST)
    present = set(release_files(directory))
    changed = [rel for rel in sorted(present & set(entries)) if _sha256(directory / rel) != entries[rel][0]]
    added = sorted(present - set(entries))
    removed = sorted(set(entries) - present)
    return changed, added, removed


def release_dirs(root: Path) -> list[Path]:
    base = root / RELEASES_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir())


def check_frozen(spec: Spec) -> Iterator[Diagnostic]:
    root = spec.root
    hint = "a released version is never edited: revert the change, and publish errata in a patch release"
    for d in release_dirs(root):
        base = d.relative_to(root).as_posix()
        if parse(d.name) is None:
            yield RELEASE_MODIFIED.at(
                Location(f"{base}/{MANIFEST}", 1, 1),
                f"{base}/ is not a release: {d.name!r} is not a semantic version",
                hint="only `cps release X.Y.Z` writes under releases/",
            )
            continue
        manifest = d / MANIFEST
        if not manifest.is_file():
            yield RELEASE_MODIFIED.at(
                Location(f"{base}/{MANIFEST}", 1, 1),
                f"release {d.name} has no {MANIFEST}; its files cannot be verified",
                hint="restore the manifest written by `cps release` (git checkout)",
            )
            continue
        entries, bad = read_manifest(manifest)
        for n in bad:
            yield RELEASE_MODIFIED.at(Location(f"{base}/{MANIFEST}", n, 1), f"malformed line in the manifest of release {d.name}", hint=hint)
        changed, added, removed = verify(d)
        for rel in changed:
            yield RELEASE_MODIFIED.at(
                Location(f"{base}/{rel}", 1, 1),
                f"{base}/{rel} was modified after release {d.name} was frozen (its SHA-256 differs from {MANIFEST})",
                hint=hint,
            )
        for rel in added:
            yield RELEASE_MODIFIED.at(
                Location(f"{base}/{rel}", 1, 1),
                f"{base}/{rel} was added to release {d.name} after it was frozen (not in {MANIFEST})",
                hint=hint,
            )
        for rel in removed:
            yield RELEASE_MODIFIED.at(
                Location(f"{base}/{MANIFEST}", entries[rel][1], 1),
                f"{base}/{rel} was removed from release {d.name} after it was frozen",
                hint=hint,
            )
    yield from check_ids_kept(spec)
    yield from check_retired_kept(spec)


def released_requirement_ids(directory: Path) -> dict[str, Location]:
    """Requirement IDs stated in a release, with where (relative to the release directory)."""
    from cps.markdown import parse_document

    found: dict[str, Location] = {}
    for path in sorted((directory / "spec").glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "[CPS-" not in text:
            continue
        rel = path.relative_to(directory).as_posix()

        def ids(rel=rel, text=text, stem=path.stem) -> list[tuple[str, int, int]]:
            doc, _ = parse_document(rel, text, stem)
            return [(r.id, r.location.line, r.location.col) for r in doc.requirements]

        for rid, line, col in _cached_ids(rel, text, ids):
            found.setdefault(rid, Location(rel, line, col))
    return found


def _cached_ids(rel: str, text: str, compute):
    """Released files never change, so their requirement IDs are cached by content (cps.cache)."""
    try:
        from cps import cache
    except ModuleNotFoundError:
        return compute()
    return cache.cached("released-ids", (cache.code_version("cps.markdown", "cps.model"), rel, text), compute)


def check_ids_kept(spec: Spec) -> Iterator[Diagnostic]:
    draft_ids = {r.id for r in spec.requirements}
    where = _retired_location(spec)
    reported: set[str] = set()
    for d in release_dirs(spec.root):
        if parse(d.name) is None or not (d / "spec").is_dir():
            continue
        base = d.relative_to(spec.root).as_posix()
        for rid, loc in released_requirement_ids(d).items():
            if rid in draft_ids or rid in spec.retired_ids or rid in reported:
                continue
            reported.add(rid)
            yield RELEASED_ID_DROPPED.at(
                where,
                f"{rid} is a requirement of release {d.name} ({base}/{loc.path}:{loc.line}) but is missing from the "
                f"draft and not listed in retired_ids",
                hint=f"restore {rid}, or add `{rid}: <reason>` under retired_ids (IDs are never reused or silently dropped)",
            )


def released_retired_ids(directory: Path) -> dict[str, str]:
    from cps.yamlio import parse_yaml, to_plain

    path = directory / "spec" / "cps.yaml"
    if not path.is_file():
        return {}
    yf, _ = parse_yaml(path.read_text(encoding="utf-8"), path.relative_to(directory).as_posix())
    data = to_plain(yf.data) if yf is not None else None
    retired = data.get("retired_ids") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in retired.items()} if isinstance(retired, dict) else {}


def _retired_location(spec: Spec) -> Location:
    """The line of the ``retired_ids:`` key in spec/cps.yaml."""
    yf = spec.yaml_files.get("spec/cps.yaml")
    if yf is None:
        return Location("spec/cps.yaml", 1, 1)
    try:
        line, col = yf.data.lc.key("retired_ids")
        return Location("spec/cps.yaml", line + 1, col + 1)
    except Exception:
        return yf.loc("retired_ids")


def check_retired_kept(spec: Spec) -> Iterator[Diagnostic]:
    where = _retired_location(spec)
    reported: set[str] = set()
    for d in release_dirs(spec.root):
        if parse(d.name) is None:
            continue
        for rid, reason in released_retired_ids(d).items():
            if rid in spec.retired_ids or rid in reported:
                continue
            reported.add(rid)
            yield RETIRED_ID_RESTORED.at(
                where,
                f"{rid} is retired in release {d.name} ({reason}) but not in the draft's retired_ids",
                hint=f"keep `{rid}: {reason}` under retired_ids; a retired ID is never used again",
            )


CHECKS = [check_frozen]
