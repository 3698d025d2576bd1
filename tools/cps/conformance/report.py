"""Writers for a run's outputs: ``result.json``, ``junit.xml`` and a self-contained ``report.html``.

``result.json`` follows ``schemas/conformance-result.schema.json``. Nothing written here contains
a secret: credentials are redacted in the configuration, and the recorded exchanges were redacted
when they were recorded (Authorization signature, X-Amz-Signature, the access key in
X-Amz-Credential, x-amz-security-token); :func:`scrub` redacts once more before writing.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape, quoteattr

from cps.conformance import SUITE_VERSION
from cps.conformance.reqs import anchor_url
from cps.conformance.runner import OUTCOMES, TestResult, profile_verdicts, requirement_verdicts

RESULT_SCHEMA_ID = "https://cloud-portable.github.io/storage/schemas/conformance-result.schema.json"

_SIG = re.compile(r"(Signature=|X-Amz-Signature=)[0-9a-fA-F]{16,}", re.I)
_TOKEN = re.compile(r"(X-Amz-Security-Token=)[^&\s\"']+", re.I)


def scrub(text: str, secrets: list[str] = ()) -> str:
    """Last line of defence: signatures, tokens and any known secret string are replaced."""
    text = _SIG.sub(r"\1<redacted>", text)
    text = _TOKEN.sub(r"\1<redacted>", text)
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "<redacted>")
    return text


def build_result(run, spec, target: dict[str, Any] | None = None) -> dict[str, Any]:
    results: list[TestResult] = [run.results[t.id] for t in run.tests if t.id in run.results]
    filtered = bool(run.config.only or run.config.skip)
    profiles = profile_verdicts(results, run.config.profiles, filtered)
    reqs = requirement_verdicts(results, spec)
    for rid, v in reqs.items():
        req = spec.requirement(rid) if spec is not None and hasattr(spec, "requirement") else None
        if req is None and spec is not None:
            req = next((r for r in spec.requirements if r.id == rid), None)
        v["url"] = anchor_url(spec, req) if req is not None else None
    counts = {o: sum(1 for r in results if r.outcome == o) for o in OUTCOMES}
    from cps.conformance.runner import exit_code

    return {
        "$schema": RESULT_SCHEMA_ID,
        "spec_version": str(getattr(spec, "version", "draft") or "draft"),
        "suite_version": SUITE_VERSION,
        "target": target or {"endpoint": run.config.endpoint.url},
        "profiles": run.config.profiles,
        "started": run.started.isoformat() if run.started else None,
        "finished": run.finished.isoformat() if run.finished else None,
        "interrupted": run.interrupted,
        "configuration": run.config.redacted(),
        "summary": {"tests": len(results), **counts,
                    "conforms": exit_code(profiles, filtered) == 0},
        "profile_verdicts": profiles,
        "requirements": reqs,
        "tests": [
            {
                "id": r.test.id,
                "title": r.test.title,
                "profile": r.test.profile,
                "requirements": r.test.requirements,
                "kind": r.test.kind,
                "level": r.level,
                "outcome": r.outcome,
                "message": r.message,
                "duration_s": round(r.duration, 4),
                "source": {"file": r.test.location.path, "line": r.test.location.line},
                **({"exchanges": r.exchanges} if r.outcome in ("fail", "blocked", "error") else {}),
            }
            for r in results
        ],
        "cleanup": {"incomplete": list(run.cleanup_report)},
    }


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_json(result: dict[str, Any], path: Path, secrets: list[str] = ()) -> None:
    _atomic_write(path, scrub(json.dumps(result, indent=2, ensure_ascii=False), secrets) + "\n")


# ---------------------------------------------------------------- JUnit


def junit(result: dict[str, Any]) -> str:
    """JUnit XML: one testsuite per profile, one testcase per test; blocked counts as failure-free
    'skipped' with a message? No: blocked and error are <error>, fail is <failure>, skipped <skipped>."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    tests = result["tests"]
    tot = result["summary"]
    out.append(f'<testsuites name="cps-conformance" tests="{len(tests)}" failures="{tot["fail"]}" '
               f'errors="{tot["error"] + tot["blocked"]}" skipped="{tot["skipped"]}">')
    by: dict[str, list[dict]] = {}
    for t in tests:
        by.setdefault(t["profile"], []).append(t)
    for prof, ts in by.items():
        c = {o: sum(1 for t in ts if t["outcome"] == o) for o in OUTCOMES}
        time_s = sum(t["duration_s"] for t in ts)
        out.append(f'  <testsuite name={quoteattr("cps." + prof)} tests="{len(ts)}" failures="{c["fail"]}" '
                   f'errors="{c["error"] + c["blocked"]}" skipped="{c["skipped"]}" time="{time_s:.3f}">')
        for t in ts:
            attrs = f'classname={quoteattr("cps." + prof)} name={quoteattr(t["id"])} time="{t["duration_s"]:.3f}"'
            props = "".join(f'<property name="requirement" value={quoteattr(r)}/>' for r in t["requirements"])
            body = f"<properties>{props}</properties>"
            msg = t.get("message") or ""
            detail = _exchange_text(t.get("exchanges") or [])
            if t["outcome"] == "fail":
                body += f'<failure message={quoteattr(msg[:500])} type="fail">{xml_escape(msg + chr(10) + detail)}</failure>'
            elif t["outcome"] == "blocked":
                body += f'<error message={quoteattr(msg[:500])} type="blocked">{xml_escape(msg + chr(10) + detail)}</error>'
            elif t["outcome"] == "error":
                body += f'<error message={quoteattr(msg[:500])} type="error">{xml_escape(msg + chr(10) + detail)}</error>'
            elif t["outcome"] == "skipped":
                body += f"<skipped message={quoteattr(msg)}/>"
            out.append(f"    <testcase {attrs}>{body}</testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def _exchange_text(exchanges: list[dict]) -> str:
    lines = []
    for e in exchanges:
        rq = e["request"]
        lines.append(f"> {rq['method']} {rq['target']}")
        lines += [f"> {k}: {v}" for k, v in rq["headers"]]
        if rq.get("body_preview"):
            lines.append(f"> ({rq['body_length']} bytes) {rq['body_preview'][:500]}")
        rs = e.get("response")
        if rs:
            lines.append(f"< {rs['status']} {rs['reason']}")
            lines += [f"< {k}: {v}" for k, v in rs["headers"]]
            if rs.get("body_preview"):
                lines.append(f"< ({rs['body_length']} bytes) {rs['body_preview'][:1500]}")
        if e.get("error"):
            lines.append(f"! {e['error']}")
        for f in e.get("failures") or []:
            lines.append(f"! {f}")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1d1d1f}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f6}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f7f7f9;border:1px solid #e3e3e8;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.pass,.conforms{color:#0a6b2a;font-weight:600}.fail,.does-not-conform{color:#b00020;font-weight:600}
.blocked,.inconclusive{color:#8a5300;font-weight:600}.error{color:#6b0ab0;font-weight:600}
.skipped,.incomplete,.untested,.partial{color:#666;font-weight:600}
.badge{display:inline-block;padding:.1em .5em;border-radius:.6em;background:#eee}
details{margin:.4em 0 1em}summary{cursor:pointer}.meta td:first-child{width:14em;color:#555}
"""


def _e(s: Any) -> str:
    return html.escape("" if s is None else str(s), quote=True)


def render_html(result: dict[str, Any], spec=None) -> str:
    s = result["summary"]
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>CPS conformance report: {_e(result['target'].get('implementation') or result['target'].get('endpoint'))}</title>",
             f"<style>{_CSS}</style></head><body>"]
    tgt = result["target"]
    name = tgt.get("implementation") or tgt.get("endpoint")
    parts.append(f"<h1>CPS conformance: {_e(name)} {_e(tgt.get('version') or '')}</h1>")
    verdict = "conforms" if s["conforms"] else "does-not-conform"
    parts.append(f'<p>Overall: <span class="{verdict}">{"conforms to every claimed profile" if s["conforms"] else "does not conform to every claimed profile"}</span>. '
                 f'{s["tests"]} tests: <span class="pass">{s["pass"]} pass</span>, <span class="fail">{s["fail"]} fail</span>, '
                 f'<span class="blocked">{s["blocked"]} blocked</span>, <span class="error">{s["error"]} error</span>, '
                 f'<span class="skipped">{s["skipped"]} skipped</span>.</p>')
    cfg = result["configuration"]
    rows = [("Specification version", result["spec_version"]), ("Suite version", result["suite_version"]),
            ("Endpoint", cfg.get("endpoint")), ("Region", cfg.get("region")), ("Addressing", cfg.get("addressing")),
            ("Claimed profiles", ", ".join(result["profiles"])), ("Started", result.get("started")),
            ("Finished", result.get("finished"))]
    for k, v in tgt.items():
        if k not in ("endpoint",):
            rows.append((f"Target {k}", v))
    left = (result.get("cleanup") or {}).get("incomplete") or []
    rows.append(("Clean-up", "; ".join(left) if left else "everything the run created was removed"))
    if result.get("interrupted"):
        rows.append(("Interrupted", "yes: tests that did not run are skipped"))
    if cfg.get("only"):
        rows.append(("--only", " ".join(cfg["only"])))
    if cfg.get("skip"):
        rows.append(("--skip", " ".join(cfg["skip"])))
    parts.append('<table class="meta">' + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>")

    parts.append("<h2>Verdict per profile</h2><p>The verdict counts the tests of absolute requirements "
                 "(MUST, MUST NOT); failed tests of SHOULD and MAY requirements are listed as deviations.</p>"
                 "<table><tr><th>Profile</th><th>Verdict</th><th>Tests (MUST)</th>"
                 + "".join(f"<th>{o}</th>" for o in OUTCOMES) + "<th>SHOULD/MAY deviations</th></tr>")
    for p, v in result["profile_verdicts"].items():
        dev = ", ".join(f'<a href="#t-{_e(t)}">{_e(t)}</a>' for t in v.get("deviations") or []) or "none"
        parts.append(f'<tr><td>{_e(p)}</td><td class="{_e(v["verdict"])}">{_e(v["verdict"])}</td><td>{v["tests"]}</td>'
                     + "".join(f"<td>{v['counts'][o]}</td>" for o in OUTCOMES) + f"<td>{dev}</td></tr>")
    parts.append("</table>")

    tests_by_id = {t["id"]: t for t in result["tests"]}
    parts.append("<h2>Requirements</h2><table><tr><th>Requirement</th><th>Profile</th><th>Verdict</th><th>Tests</th></tr>")
    claimed = set(result["profiles"])
    for rid, v in result["requirements"].items():
        if v.get("profile") and v["profile"] not in claimed:
            continue
        link = f'<a href="{_e(v["url"])}"><code>{_e(rid)}</code></a>' if v.get("url") else f"<code>{_e(rid)}</code>"
        tl = ", ".join(
            f'<a href="#t-{_e(t)}" class="{_e(tests_by_id.get(t, {}).get("outcome", ""))}">{_e(t)}</a>' for t in v["tests"])
        parts.append(f'<tr><td>{link}</td><td>{_e(v.get("profile") or "")}</td><td class="{_e(v["verdict"])}">{_e(v["verdict"])}</td><td>{tl}</td></tr>')
    parts.append("</table>")

    bad = [t for t in result["tests"] if t["outcome"] in ("fail", "blocked", "error")]
    parts.append(f"<h2>Failures, blocked tests and errors ({len(bad)})</h2>")
    for t in bad:
        reqs = ", ".join(
            (f'<a href="{_e(result["requirements"].get(r, {}).get("url"))}"><code>{_e(r)}</code></a>'
             if result["requirements"].get(r, {}).get("url") else f"<code>{_e(r)}</code>") for r in t["requirements"])
        lvl = "" if t.get("level", "must") == "must" else f' <span class="badge">{_e(t["level"].upper())} only</span>'
        parts.append(f'<h3 id="t-{_e(t["id"])}"><span class="{_e(t["outcome"])}">{_e(t["outcome"])}</span> '
                     f'<code>{_e(t["id"])}</code>: {_e(t["title"])}{lvl}</h3>')
        parts.append(f"<p>Requirements: {reqs}. Profile: {_e(t['profile'])}. Source: <code>{_e(t['source']['file'])}:{t['source']['line']}</code></p>")
        parts.append(f"<p><strong>What happened:</strong> {_e(t['message'])}</p>")
        for i, ex in enumerate(t.get("exchanges") or []):
            failed = bool(ex.get("failures") or ex.get("error"))
            parts.append(f"<details{' open' if failed else ''}><summary>{_e(ex.get('phase', ''))} step {i + 1}: {_e(ex.get('title'))}"
                         f"{' (failed)' if failed else ''}</summary>")
            parts.append(f"<pre>{_e(_exchange_text([ex]))}</pre></details>")
    parts.append("<h2>All tests</h2><table><tr><th>Test</th><th>Profile</th><th>Outcome</th><th>Requirements</th><th>Message</th></tr>")
    for t in result["tests"]:
        anchor = f' id="t-{_e(t["id"])}"' if t["outcome"] not in ("fail", "blocked", "error") else ""
        parts.append(f'<tr{anchor}><td><code>{_e(t["id"])}</code><br>{_e(t["title"])}</td><td>{_e(t["profile"])}</td>'
                     f'<td class="{_e(t["outcome"])}">{_e(t["outcome"])}</td><td>{_e(", ".join(t["requirements"]))}</td>'
                     f'<td>{_e(t["message"][:300])}</td></tr>')
    parts.append("</table>")
    parts.append(f"<p><small>Generated by the CPS conformance suite {_e(result['suite_version'])}. "
                 "Secrets (signatures, session tokens, the access key) are redacted.</small></p></body></html>")
    return "\n".join(parts) + "\n"


def write_reports(result: dict[str, Any], out_dir: Path, secrets: list[str] = (), spec=None,
                  replace: dict[str, str] | None = None) -> list[Path]:
    """Write the three files; ``replace`` maps strings to stable stand-ins (e.g. a random port)."""
    out_dir = Path(out_dir)
    if replace:
        text = json.dumps(result)
        for a, b in replace.items():
            text = text.replace(a, b)
        result = json.loads(text)
    paths = [out_dir / "result.json", out_dir / "junit.xml", out_dir / "report.html"]
    write_json(result, paths[0], secrets)
    _atomic_write(paths[1], scrub(junit(result), secrets))
    _atomic_write(paths[2], scrub(render_html(result, spec), secrets))
    return paths
