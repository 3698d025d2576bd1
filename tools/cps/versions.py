# SPDX-License-Identifier: Apache-2.0
"""Versions of the specification: semantic version numbers, the frozen releases, their status.

A release ``X.Y.Z`` is frozen in ``releases/X.Y.Z/`` (``cps release`` writes it, ``cps check``
keeps it unchanged); the working draft lives in ``spec/`` and ``schemas/`` with ``version: draft``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

RELEASES_DIR = "releases"
DRAFT = "draft"

# semver.org 2.0.0, without build metadata (a build is not a version of the text)
SEMVER_RE = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$"
)

BUMPS = ("none", "patch", "minor", "major")  # in increasing order


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple = ()

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.pre)

    def key(self):
        """Sort key implementing semver precedence (1.0.0-rc.1 < 1.0.0 < 1.0.1)."""
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.core, 0 if self.pre else 1, pre_key)

    def __lt__(self, other: "Version") -> bool:
        return self.key() < other.key()

    def __le__(self, other: "Version") -> bool:
        return self.key() <= other.key()

    def __gt__(self, other: "Version") -> bool:
        return self.key() > other.key()

    def __ge__(self, other: "Version") -> bool:
        return self.key() >= other.key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" + (f"-{'.'.join(self.pre)}" if self.pre else "")


def parse(text: str) -> Version | None:
    m = SEMVER_RE.match(text or "")
    if not m:
        return None
    pre = tuple(m.group("pre").split(".")) if m.group("pre") else ()
    return Version(int(m.group("major")), int(m.group("minor")), int(m.group("patch")), pre)


def bump_between(old: Version, new: Version) -> str:
    """The kind of bump from ``old`` to ``new`` judged on the X.Y.Z core ('none' for the same core)."""
    if new.major != old.major:
        return "major"
    if new.minor != old.minor:
        return "minor"
    if new.patch != old.patch:
        return "patch"
    return "none"


def next_version(old: Version, bump: str) -> Version:
    if bump == "major":
        return Version(old.major + 1, 0, 0)
    if bump == "minor":
        return Version(old.major, old.minor + 1, 0)
    if bump == "patch" and not old.pre:
        return Version(old.major, old.minor, old.patch + 1)
    return Version(old.major, old.minor, old.patch)


def released(root: Path) -> list[str]:
    """Versions frozen under ``releases/``, oldest first (semver precedence)."""
    base = root / RELEASES_DIR
    if not base.is_dir():
        return []
    found = []
    for d in base.iterdir():
        v = parse(d.name)
        if v is not None and d.is_dir() and (d / "spec" / "cps.yaml").is_file():
            found.append(v)
    return [str(v) for v in sorted(found, key=Version.key)]


def latest_final(versions: list[str]) -> str | None:
    finals = [parse(v) for v in versions if parse(v) and not parse(v).is_prerelease]
    return str(max(finals, key=Version.key)) if finals else None


def status_label(stamped_version: str) -> str:
    """The status a release is stamped with when it is cut."""
    if stamped_version == DRAFT:
        return "Draft"
    v = parse(stamped_version)
    if v is None:
        return "Draft"
    if v.is_prerelease:
        return "Release Candidate" if v.pre[0].lower() == "rc" else "Pre-release"
    return "Released"


def current_status(version: str, versions: list[str]) -> str:
    """Status shown on the site today: a release is Superseded once a newer one replaces it.

    A final release is superseded by a newer final release; a pre-release by any newer release.
    """
    if version == DRAFT:
        return "Draft"
    v = parse(version)
    if v is None:
        return "Draft"
    newer = [parse(x) for x in versions if parse(x) and parse(x) > v]
    if v.is_prerelease:
        return "Superseded" if newer else status_label(version)
    return "Superseded" if any(not n.is_prerelease for n in newer) else "Released"


def load_tree(tree: Path, cache_root: Path):
    """Load the specification in ``tree`` (a frozen release) without writing anything into it.

    The loader keeps its content cache under ``<root>/.cache``; for a release that would be
    inside ``releases/<version>/``. So the release is loaded with the cache switched off
    (``CPS_NO_CACHE``), and the cache root of the repository (``cache_root``) is restored after.
    """
    from cps import cache
    from cps.loader import load

    old_env = os.environ.get("CPS_NO_CACHE")
    old_root = getattr(cache, "ROOT", None)
    os.environ["CPS_NO_CACHE"] = "1"
    try:
        return load(tree)
    finally:
        if old_env is None:
            os.environ.pop("CPS_NO_CACHE", None)
        cache.ROOT = old_root if old_root is not None else cache_root


def load_release(root: Path, name: str):
    """A frozen release as a Spec. Releases never change (``cps check`` verifies them against
    their manifest), so the loaded model is cached under the repository's ``.cache/`` keyed on
    the manifest and the loader's code."""
    tree = root / RELEASES_DIR / name
    manifest = tree / "MANIFEST.sha256"
    try:
        from cps import cache
    except ModuleNotFoundError:  # pragma: no cover - older toolkits without cps.cache
        return load_tree(tree, root)
    if not manifest.is_file() or not hasattr(cache, "cached"):
        return load_tree(tree, root)
    import ruamel.yaml

    key = (cache.code_version("cps.loader", "cps.markdown", "cps.model", "cps.yamlio", "cps.versions"),
           ruamel.yaml.__version__, str(tree.resolve()), manifest.read_text(encoding="utf-8"))
    saved = cache.ROOT
    cache.ROOT = root
    try:
        return cache.cached("release-spec", key, lambda: load_tree(tree, root))
    finally:
        cache.ROOT = saved if saved is not None else root
