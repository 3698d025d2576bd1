# SPDX-License-Identifier: Apache-2.0
"""Output formats of ``cps diff``: ``text``, ``markdown``, ``json`` and ``github``.

The ``json`` format is stable and described by ``diff_result.schema.json`` next to this module
(JSON Schema 2020-12)::

    {
      "format": "cps-diff/1",
      "old": {"spec": "1.0.0", "kind": "release", "source": "releases/1.0.0", "version": "1.0.0"},
      "new": {"spec": "draft", "kind": "draft", "source": "working tree", "version": "draft"},
      "summary": {"total": 3, "breaking": 2, "non_breaking": 0, "editorial": 1, "accepted": 0,
                  "breaks_servers": 1, "breaks_clients": 1, "bump": "major"},
      "changes": [
        {"rule": "PARAM-REMOVED", "severity": "breaking", "level": "error", "breaks": "clients",
         "tags": ["parameter", "request"],
         "subject": {"operation": "GetObject", "parameter": "query partNumber"},
         "old": {"required": false}, "new": null,
         "message": "GetObject: query parameter `partNumber` is removed",
         "old_location": {"path": "schemas/openapi.yaml", "line": 40, "col": 11},
         "new_location": null,
         "fingerprint": "5d41402abc4b2a76", "accepted": false,
         "accepted_reason": null, "accepted_by": null}
      ],
      "stale_accepted": [{"fingerprint": "...", "rule": "...", "reason": "..."}]
    }

``summary`` counts the changes that are not accepted; ``bump`` (``major``, ``minor``, ``patch``
or ``none``) takes every change into account, accepted ones included. ``changes`` lists every
change, accepted ones with ``"accepted": true``. Locations are relative to the root of their
side (``old.source`` / ``new.source``); a location is ``null`` on the side where the subject does
not exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cps import differ
from cps.diagnostics import Location

JSON_FORMAT = "cps-diff/1"
SCHEMA_PATH = Path(__file__).with_name("diff_result.schema.json")
_HEAD = {differ.BREAKING: "Breaking", differ.NON_BREAKING: "Non-breaking", differ.EDITORIAL: "Editorial"}
_ICON = {differ.BREAKING: "🔴", differ.NON_BREAKING: "🟡", differ.EDITORIAL: "⚪"}


def render(result, fmt: str, show_accepted: bool = False) -> str:
    return {"text": text, "markdown": markdown, "json": to_json, "github": github}[fmt](result, show_accepted)


def _listed(result, show_accepted: bool) -> list[differ.Change]:
    return result.changes if show_accepted else result.open_changes


def _where(side, loc) -> str:
    """A location as a reader finds it: relative to the repository when the side is in the
    working tree (``spec/...``, ``releases/1.0.0/spec/...``), else prefixed with the side."""
    if not loc:
        return ""
    if side.prefix is not None:
        return f"{side.prefix}{loc}"
    return f"{side.spec}:{loc}"


def _counts(s: dict[str, Any]) -> str:
    parts = [f"{s['breaking']} breaking", f"{s['non_breaking']} non-breaking", f"{s['editorial']} editorial"]
    return ", ".join(parts) + f"; {s['accepted']} accepted"


def _stale_lines(result) -> list[str]:
    if not result.stale_accepted:
        return []
    lines = [f"{len(result.stale_accepted)} accepted entr{'y' if len(result.stale_accepted) == 1 else 'ies'} "
             f"in {result.accepted_file} match no change (stale, can be removed):"]
    lines += [f"  {e['fingerprint']} {e['rule']}: {e['reason']}" for e in result.stale_accepted]
    return lines


def text(result, show_accepted: bool = False) -> str:
    s = result.summary()
    out = [
        f"cps diff {result.old.spec} ({result.old.source}) -> {result.new.spec} ({result.new.source})",
        f"{s['total']} change{'s' if s['total'] != 1 else ''}: {_counts(s)}",
        f"Required version bump: {s['bump']}",
    ]
    listed = _listed(result, show_accepted)
    for sev in differ.SEVERITIES:
        group = [c for c in listed if c.severity == sev]
        if not group:
            continue
        out += ["", f"{_HEAD[sev]} ({len(group)})"]
        for c in group:
            who = f" [breaks {c.breaks}]" if c.breaks != "none" else ""
            acc = f" (accepted: {c.accepted['reason']})" if c.accepted else ""
            out.append(f"  {c.rule}{who}: {c.message}{acc}")
            if c.old_location:
                out.append(f"      old: {_where(result.old, c.old_location)}")
            if c.new_location:
                out.append(f"      new: {_where(result.new, c.new_location)}")
            out.append(f"      fingerprint: {c.fingerprint}")
    if not listed:
        out += ["", "No changes." if not result.changes else "No changes besides the accepted ones."]
    stale = _stale_lines(result)
    if stale:
        out += [""] + stale
    if any(c.accepted is None for c in listed):
        out += ["", "To accept a reviewed change, add its fingerprint, rule and a reason to .cps-accepted-changes.yaml."]
    return "\n".join(out) + "\n"


def _md(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(result, show_accepted: bool = False) -> str:
    s = result.summary()
    out = [
        f"### `cps diff` {result.old.spec} → {result.new.spec}",
        "",
        f"**Required version bump: {s['bump']}** · {s['breaking']} breaking "
        f"(servers {s['breaks_servers']}, clients {s['breaks_clients']}) · {s['non_breaking']} non-breaking · "
        f"{s['editorial']} editorial · {s['accepted']} accepted",
        "",
    ]
    listed = _listed(result, show_accepted)
    if listed:
        out += [
            "| Severity | Rule | Breaks | Change | Location | Fingerprint |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for c in listed:
            loc = c.new_location or c.old_location
            side = result.new if c.new_location else result.old
            where = f"`{_where(side, Location(loc.path, loc.line, loc.col))}`" if loc else ""
            acc = " *(accepted)*" if c.accepted else ""
            out.append(f"| {_ICON[c.severity]} {c.severity}{acc} | `{c.rule}` | {c.breaks} | {_md(c.message)} | "
                       f"{where} | `{c.fingerprint}` |")
    else:
        out.append("No changes." if not result.changes else "No changes besides the accepted ones.")
    stale = _stale_lines(result)
    if stale:
        out += ["", "<details><summary>Stale accepted entries</summary>", "", "```", *stale, "```", "</details>"]
    out += ["", "<sub>Accept a reviewed change by adding its fingerprint, rule and a reason to "
            "`.cps-accepted-changes.yaml`.</sub>"]
    return "\n".join(out) + "\n"


def to_dict(result, show_accepted: bool = True) -> dict[str, Any]:
    return {
        "format": JSON_FORMAT,
        "old": result.old.info(),
        "new": result.new.info(),
        "summary": result.summary(),
        "changes": [c.to_json() for c in result.changes],
        "stale_accepted": [dict(e) for e in result.stale_accepted],
    }


def to_json(result, show_accepted: bool = True) -> str:
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"


def _esc(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(result, show_accepted: bool = False) -> str:
    """Workflow commands: ``::error`` breaking, ``::warning`` non-breaking, ``::notice`` editorial.

    An annotation points at the file in the new version when that version is in the checked-out
    tree (draft, releases/X.Y.Z/, a directory inside the repository); otherwise it has no file.
    """
    kind = {differ.BREAKING: "error", differ.NON_BREAKING: "warning", differ.EDITORIAL: "notice"}
    lines = []
    for c in _listed(result, show_accepted):
        props = []
        if c.new_location and result.new.prefix is not None:
            loc, prefix = c.new_location, result.new.prefix
        elif c.anchor and c.anchor is not c.old_location and result.new.prefix is not None:
            loc, prefix = c.anchor, result.new.prefix
        elif c.old_location and result.old.prefix is not None:
            loc, prefix = c.old_location, result.old.prefix
        else:
            loc, prefix = None, None
        if loc is not None:
            props += [f"file={_esc(prefix + loc.path, True)}", f"line={loc.line}", f"col={loc.col}"]
        who = f", breaks {c.breaks}" if c.breaks != "none" else ""
        props.append(f"title={_esc(f'{c.rule} ({c.severity}{who})', True)}")
        msg = f"{c.message} [fingerprint {c.fingerprint}]"
        if loc is None and c.old_location:
            msg += f" (was at {result.old.spec}:{c.old_location})"
        lines.append(f"::{kind[c.severity]} {','.join(props)}::{_esc(msg)}")
    s = result.summary()
    lines.append(f"cps diff {result.old.spec} -> {result.new.spec}: {s['total']} changes ({_counts(s)}); "
                 f"required version bump: {s['bump']}")
    return "\n".join(lines) + "\n"
