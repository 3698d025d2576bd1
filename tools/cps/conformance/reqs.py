"""The requirements the suite traces to, and the site anchors they have.

``load_spec(root)`` returns the lead's model (:func:`cps.loader.load`) when it loads, and
otherwise a minimal stand-in parsed here from ``spec/*.md`` (lines starting with ``[CPS-`` or
``- [CPS-``), ``spec/profiles.yaml`` and ``spec/cps.yaml``. Either way the result has
``requirements`` (each with ``id``, ``profile``, ``subject``, ``verify``, ``doc``,
``location``, ``text``), ``profiles`` (id -> object with ``requires``), ``retired_ids`` and
``meta``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cps.diagnostics import Location

REQ_LINE = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?\[(CPS-[A-Z]+-\d{3})\](\{[^}]*\})?\s*(.*)$")
ATTR = re.compile(r"([a-z]+)=([A-Za-z0-9_-]+)")


@dataclass
class Req:
    id: str
    profile: str
    subject: str
    verify: str
    doc: str
    text: str
    location: Location
    keyword: str | None = None


@dataclass
class Prof:
    id: str
    name: str
    requires: list[str]
    summary: str = ""


@dataclass
class MiniSpec:
    root: Path
    requirements: list[Req] = field(default_factory=list)
    profiles: dict[str, Prof] = field(default_factory=dict)
    retired_ids: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = "draft"


def _front_matter(text: str) -> tuple[dict, int]:
    if not text.startswith("---"):
        return {}, 0
    end = text.find("\n---", 3)
    if end < 0:
        return {}, 0
    from ruamel.yaml import YAML

    try:
        meta = YAML(typ="safe").load(text[3:end]) or {}
    except Exception:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[:end].count("\n") + 1


_KW = re.compile(r"\b(MUST NOT|MUST|REQUIRED|SHALL NOT|SHALL|SHOULD NOT|SHOULD|NOT RECOMMENDED|RECOMMENDED|MAY|OPTIONAL)\b")


def parse_requirements(root: Path) -> list[Req]:
    out: list[Req] = []
    for path in sorted((root / "spec").glob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        meta, _ = _front_matter(text)
        default_profile = str(meta.get("profile") or "core")
        rel = path.relative_to(root).as_posix()
        in_fence = False
        for i, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            m = REQ_LINE.match(line)
            if not m:
                continue
            attrs = dict(ATTR.findall(m.group(2) or ""))
            kw = _KW.search(m.group(3))
            out.append(Req(
                id=m.group(1),
                profile=attrs.get("profile", default_profile),
                subject=attrs.get("subject", "server"),
                verify=attrs.get("verify", "test"),
                doc=path.stem,
                text=m.group(3).strip(),
                location=Location(rel, i, line.index("[CPS-") + 2),
                keyword=kw.group(1) if kw else None,
            ))
    return out


def load_mini(root: Path) -> MiniSpec:
    from ruamel.yaml import YAML

    spec = MiniSpec(root)
    y = YAML(typ="safe")
    try:
        meta = y.load((root / "spec" / "cps.yaml").read_text(encoding="utf-8")) or {}
    except Exception:
        meta = {}
    spec.meta = meta if isinstance(meta, dict) else {}
    spec.version = str(spec.meta.get("version") or "draft")
    spec.retired_ids = dict(spec.meta.get("retired_ids") or {})
    try:
        profs = (y.load((root / "spec" / "profiles.yaml").read_text(encoding="utf-8")) or {}).get("profiles") or []
    except Exception:
        profs = []
    for p in profs:
        if isinstance(p, dict) and p.get("id"):
            spec.profiles[p["id"]] = Prof(p["id"], p.get("name", p["id"]), list(p.get("requires") or []), p.get("summary", ""))
    spec.requirements = parse_requirements(root)
    return spec


def load_spec(root: Path):
    """The lead's model when ``cps.loader`` exists and loads; the stand-in otherwise."""
    try:
        from cps import loader  # type: ignore[attr-defined]

        spec = loader.load(root)
        if getattr(spec, "requirements", None) is not None and getattr(spec, "profiles", None) is not None:
            return spec
    except Exception:
        pass
    return load_mini(root)


def site_url(spec) -> str:
    meta = getattr(spec, "meta", None) or {}
    url = meta.get("site_url") if isinstance(meta, dict) else None
    if not url:
        try:
            from ruamel.yaml import YAML

            url = (YAML(typ="safe").load((Path(spec.root) / "spec" / "cps.yaml").read_text(encoding="utf-8")) or {}).get("site_url")
        except Exception:
            url = None
    return str(url or "https://cloud-portable.github.io/storage/").rstrip("/") + "/"


def anchor_url(spec, req) -> str:
    return f"{site_url(spec)}draft/{req.doc}/#{req.id}"


def profile_closure(spec, profiles: list[str]) -> list[str]:
    """The profiles named plus every profile they require, in spec order."""
    want: set[str] = set()
    stack = list(profiles)
    while stack:
        p = stack.pop()
        if p in want:
            continue
        want.add(p)
        prof = spec.profiles.get(p) if isinstance(spec.profiles, dict) else None
        for r in (getattr(prof, "requires", None) or []):
            stack.append(r)
    order = list(spec.profiles) if isinstance(spec.profiles, dict) else []
    return [p for p in order if p in want] + sorted(p for p in want if p not in order)
