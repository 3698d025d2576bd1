"""``cps fmt``: one canonical layout for every YAML source, comments kept (ruamel round-trip)."""

from __future__ import annotations

import difflib
from pathlib import Path

from cps.diagnostics import Diagnostic, Location, rule
from cps.yamlio import dump_yaml, parse_yaml

NOT_CANONICAL = rule("FMT001", "not-canonical", "A YAML source is not in canonical layout (run `cps fmt`).")

# The specification's own YAML sources. Conformance vectors are left as written: they use
# escapes (e.g. "\u00e9" next to "e\u0301") whose spelling is the point of the test.
YAML_GLOBS = ("spec/*.yaml", "schemas/*.yaml", "schemas/**/*.yaml")


def yaml_sources(root: Path) -> list[Path]:
    found: set[Path] = set()
    for pattern in YAML_GLOBS:
        found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def canonical(text: str, rel: str) -> tuple[str | None, list[Diagnostic]]:
    yf, diags = parse_yaml(text, rel)
    if yf is None:
        return None, diags
    return dump_yaml(yf.data), []


def first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return i
    return min(len(a.splitlines()), len(b.splitlines())) + 1


def run_fmt(root: Path, check_only: bool) -> tuple[list[Diagnostic], list[str], list[str]]:
    """Return (diagnostics, changed files, unified diffs)."""
    diags: list[Diagnostic] = []
    changed: list[str] = []
    diffs: list[str] = []
    for path in yaml_sources(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        new, errs = canonical(text, rel)
        diags.extend(errs)
        if new is None or new == text:
            continue
        changed.append(rel)
        if check_only:
            diags.append(
                NOT_CANONICAL.at(
                    Location(rel, first_difference(text, new), 1),
                    "not in canonical layout",
                    hint="run `cps fmt` to rewrite it",
                )
            )
            diffs.append(
                "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"a/{rel}", f"b/{rel}"))
            )
        else:
            tmp = path.with_name(path.name + ".cps-fmt.tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(path)
    return diags, changed, diffs
