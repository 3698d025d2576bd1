"""One diagnostic type and its formatters (human, JSON, GitHub workflow annotations)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; ``path`` is relative to the repository root, lines/cols 1-based."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: Location
    severity: str = ERROR
    hint: str | None = None

    def sort_key(self):
        return (self.location.path, self.location.line, self.location.col, self.code, self.message)


@dataclass
class Rule:
    """A documented check rule with a stable code (``REQ002``) and a short name."""

    code: str
    name: str
    summary: str
    severity: str = ERROR
    examples: list[str] = field(default_factory=list)

    def at(self, location: Location, message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(self.code, message, location, self.severity, hint)


RULES: dict[str, Rule] = {}


def rule(code: str, name: str, summary: str, severity: str = ERROR) -> Rule:
    """Register a rule. Codes are stable: never renumber or reuse one."""
    if code in RULES:
        raise ValueError(f"rule {code} registered twice")
    r = Rule(code, name, summary, severity)
    RULES[code] = r
    return r


# ---------------------------------------------------------------- formatters


def _source_line(root: Path | None, loc: Location) -> str | None:
    if root is None:
        return None
    try:
        with open(root / loc.path, encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh, 1):
                if i == loc.line:
                    return line.rstrip("\n")
    except OSError:
        return None
    return None


def format_human(diags: Iterable[Diagnostic], root: Path | None = None, color: bool | None = None) -> str:
    diags = sorted(diags, key=Diagnostic.sort_key)
    if color is None:
        color = os.isatty(1) and "NO_COLOR" not in os.environ
    bold = (lambda s: f"\033[1m{s}\033[0m") if color else (lambda s: s)
    red = (lambda s: f"\033[1;31m{s}\033[0m") if color else (lambda s: s)
    yellow = (lambda s: f"\033[1;33m{s}\033[0m") if color else (lambda s: s)
    cyan = (lambda s: f"\033[36m{s}\033[0m") if color else (lambda s: s)
    out: list[str] = []
    for d in diags:
        sev = red(d.code) if d.severity == ERROR else yellow(d.code)
        out.append(f"{bold(str(d.location))}: {sev} {d.message}")
        src = _source_line(root, d.location)
        if src is not None and src.strip():
            gutter = f"{d.location.line:>5} | "
            out.append(cyan(gutter) + src)
            caret_pad = " " * (len(gutter) + max(0, d.location.col - 1))
            out.append(caret_pad + (red("^") if d.severity == ERROR else yellow("^")))
        if d.hint:
            out.append(f"      = {cyan('help')}: {d.hint}")
    out.append(summary_line(diags))
    return "\n".join(out)


def summary_line(diags: Iterable[Diagnostic]) -> str:
    diags = list(diags)
    errors = sum(1 for d in diags if d.severity == ERROR)
    warnings = len(diags) - errors
    if not diags:
        return "All checks passed."
    files = len({d.location.path for d in diags})
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"Found {' and '.join(parts)} in {files} file{'s' if files != 1 else ''}."


def format_json(diags: Iterable[Diagnostic]) -> str:
    diags = sorted(diags, key=Diagnostic.sort_key)
    items = []
    for d in diags:
        item = asdict(d)
        item["rule"] = RULES[d.code].name if d.code in RULES else None
        items.append(item)
    return json.dumps(
        {
            "diagnostics": items,
            "summary": {
                "errors": sum(1 for d in diags if d.severity == ERROR),
                "warnings": sum(1 for d in diags if d.severity != ERROR),
            },
        },
        indent=2,
        sort_keys=True,
    )


def _gh_escape(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def format_github(diags: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands (``::error file=...,line=...::message``)."""
    diags = sorted(diags, key=Diagnostic.sort_key)
    lines = []
    for d in diags:
        kind = "error" if d.severity == ERROR else "warning"
        props = ",".join(
            [
                f"file={_gh_escape(d.location.path, True)}",
                f"line={d.location.line}",
                f"col={d.location.col}",
                f"title={_gh_escape(d.code, True)}",
            ]
        )
        msg = d.message + (f" (help: {d.hint})" if d.hint else "")
        lines.append(f"::{kind} {props}::{_gh_escape(msg)}")
    lines.append(summary_line(diags))
    return "\n".join(lines)


FORMATTERS = {"human": format_human, "json": format_json, "github": format_github}


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diags)
