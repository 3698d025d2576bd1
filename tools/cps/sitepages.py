# SPDX-License-Identifier: Apache-2.0
"""Site pages generated from data other than the RFC model: measured conformance results
(Implementations), conformance-test coverage, and the documented table of diff rules.

Every number on these pages is read from committed files (``conformance/results/``,
``conformance/vectors/``) or from the toolkit itself: nothing is hand-written.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from cps.model import Spec

RESULTS = Path("conformance") / "results"


def repository_root(spec: Spec) -> Path:
    """The repository holding the conformance suite (a frozen release lives below it)."""
    for candidate in (Path(spec.root), *Path(spec.root).resolve().parents):
        if (candidate / "conformance").is_dir() and (candidate / "spec" / "cps.yaml").is_file():
            return candidate
    return Path(spec.root)


def _version_key(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in v.replace("-", ".").split("."))


def load_results(root: Path) -> list[dict[str, Any]]:
    """Every committed result file, newest version of each implementation first."""
    found = []
    base = root / RESULTS
    for path in sorted(base.glob("*/*/result.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        data["_dir"] = path.parent
        data["_impl"] = path.parent.parent.name
        data["_version"] = path.parent.name
        found.append(data)
    found.sort(key=lambda d: (d["_impl"], tuple(-x if isinstance(x, int) else 0 for x in _version_key(d["_version"]))))
    return found


def _cell(text: Any) -> str:
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def _req_link(spec: Spec, rid: str, link) -> str:
    r = spec.requirement(rid)
    if r is None:
        return f"`{rid}`"
    return f"[{rid}]({link(r.doc, rid)})"


VERDICT = {"conforms": "conforms", "does-not-conform": "does not conform"}


def implementations_markdown(spec: Spec, results: list[dict[str, Any]], link, report_links: dict[str, str]) -> str:
    out = [
        "# Implementations",
        "",
        "Measured conformance of real servers, generated from the result files committed under",
        "`conformance/results/<implementation>/<version>/`. Nothing on this page is written by hand:",
        "each figure comes from a run of `cps conformance run` against that server.",
        "",
    ]
    if not results:
        out += ["No results have been submitted yet.", ""]
    else:
        profiles = []
        for r in results:
            for p in r.get("profile_verdicts", {}):
                if p not in profiles:
                    profiles.append(p)
        out += [
            "| Implementation | Version | Measured | Suite | Spec | " + " | ".join(profiles) + " | Report |",
            "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in profiles) + " | --- |",
        ]
        for r in results:
            cells = []
            for p in profiles:
                v = r.get("profile_verdicts", {}).get(p)
                if v is None:
                    cells.append("not claimed")
                else:
                    c = v.get("counts", {})
                    cells.append(f"{VERDICT.get(v.get('verdict'), v.get('verdict'))} ({c.get('pass', 0)}/{v.get('tests', 0)} pass)")
            date = str(r.get("finished") or r.get("started") or "")[:10]
            key = f"{r['_impl']}/{r['_version']}"
            out.append(
                f"| [{_cell(r['_impl'])}](#{_anchor(r)}) | {_cell(r['_version'])} | {date} | {_cell(r.get('suite_version', ''))} | "
                f"{_cell(r.get('spec_version', ''))} | " + " | ".join(cells) + f" | [report.html]({report_links[key]}) |"
            )
        out.append("")
        for r in results:
            out += _implementation_section(spec, r, link, report_links[f"{r['_impl']}/{r['_version']}"])
    out += [
        "## Submitting results {#submitting}",
        "",
        "1. Install the toolkit (`./dev build`) and run the suite against your endpoint, claiming the",
        "   profiles your service offers:",
        "",
        "    ```sh",
        "    .venv/bin/cps conformance run --endpoint https://s3.example.net --region eu-1 \\",
        "        --profile core --profile multipart --report reports/myserver",
        "    ```",
        "",
        "    Credentials come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` or a config file and are",
        "    never printed; every request and response in the report has its secrets redacted.",
        "2. Copy `result.json`, `junit.xml` and `report.html` into",
        "   `conformance/results/<implementation>/<version>/` and open a pull request. The page above is",
        "   regenerated from your files; a reviewer reruns the suite when the results look surprising.",
        "3. A failure you believe is the suite's mistake is fixed in the test and the specification, never",
        "   waived: open an issue citing the requirement ID and the exchange from `report.html`.",
        "",
    ]
    return "\n".join(out) + "\n"


def _anchor(r: dict[str, Any]) -> str:
    return f"impl-{r['_impl']}-{r['_version']}".replace(".", "-")


def _implementation_section(spec: Spec, r: dict[str, Any], link, report: str) -> list[str]:
    s = r.get("summary", {})
    out = [
        f"## {r['_impl']} {r['_version']} {{#{_anchor(r)}}}",
        "",
        f"{s.get('tests', 0)} tests: {s.get('pass', 0)} pass, {s.get('fail', 0)} fail, "
        f"{s.get('blocked', 0)} blocked, {s.get('error', 0)} error, {s.get('skipped', 0)} skipped. "
        f"Measured {str(r.get('finished', ''))[:19].replace('T', ' ')} UTC with suite {r.get('suite_version', '?')} "
        f"against CPS {r.get('spec_version', '?')}. The [full report]({report}) shows the request and response of "
        "every failure.",
        "",
        "| Profile | Verdict | Pass | Fail | Blocked | Error | Skipped |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p, v in r.get("profile_verdicts", {}).items():
        c = v.get("counts", {})
        out.append(
            f"| `{p}` | {VERDICT.get(v.get('verdict'), v.get('verdict'))} | {c.get('pass', 0)} | {c.get('fail', 0)} | "
            f"{c.get('blocked', 0)} | {c.get('error', 0)} | {c.get('skipped', 0)} |"
        )
    problems = [t for t in r.get("tests", []) if t.get("outcome") in ("fail", "error", "blocked")]
    if problems:
        out += [
            "",
            f"### What {r['_impl']} does instead {{#{_anchor(r)}-failures}}",
            "",
            "| Test | Outcome | Requirements | What the server did |",
            "| --- | --- | --- | --- |",
        ]
        for t in problems:
            reqs = ", ".join(_req_link(spec, rid, link) for rid in t.get("requirements", []))
            out.append(f"| `{t['id']}` | {t['outcome']} | {reqs} | {_cell(t.get('message', ''))} |")
    reqs = r.get("requirements", {})
    failing = [(rid, v) for rid, v in reqs.items() if v.get("verdict") not in ("pass", "skipped", "not-tested")]
    if reqs:
        counts: dict[str, int] = {}
        for v in reqs.values():
            counts[v.get("verdict", "?")] = counts.get(v.get("verdict", "?"), 0) + 1
        out += [
            "",
            f"Per requirement: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ".",
        ]
        if failing:
            out += ["", "| Requirement | Keyword | Profile | Verdict | Tests |", "| --- | --- | --- | --- | --- |"]
            for rid, v in failing:
                out.append(
                    f"| {_req_link(spec, rid, link)} | {v.get('keyword', '')} | `{v.get('profile', '')}` | "
                    f"{v.get('verdict')} | {', '.join('`' + x + '`' for x in v.get('tests', []))} |"
                )
    out.append("")
    return out


def coverage_page(spec: Spec, root: Path) -> str:
    from cps.conformance.catalog import coverage, coverage_markdown, load_tests

    tests, _ = load_tests(root)
    cov = coverage(spec, tests)["total"]
    return (
        "# Conformance test coverage\n\n"
        "Every conformance test names the requirements it verifies; `cps check` enforces that each cited\n"
        "requirement exists and reports every server requirement, verified by test, that has no test yet.\n"
        f"Of the {cov['requirements']} server requirements verified by test, {cov['covered']} "
        f"({cov['percent']}%) have at least one of the suite's {cov['tests']} tests; "
        f"{cov['must_covered']} of the {cov['must']} `MUST`-level ones do.\n\n" + coverage_markdown(spec, tests)
    )


def pages(spec: Spec) -> dict[str, str]:
    from cps import render

    root = repository_root(spec)
    out: dict[str, str] = {}
    results = load_results(root)
    report_links = {f"{r['_impl']}/{r['_version']}": f"results/{r['_impl']}-{r['_version']}-report.html" for r in results}
    link = render.site_linker("implementations")
    out["implementations.md"] = implementations_markdown(spec, results, link, report_links)
    for r in results:  # each self-contained report, served next to the page
        report = r["_dir"] / "report.html"
        if report.is_file():
            out[report_links[f"{r['_impl']}/{r['_version']}"]] = report.read_text(encoding="utf-8")
    if (root / "conformance" / "vectors").is_dir():
        out["coverage.md"] = coverage_page(spec, root)
    try:
        from cps.differ import rules_markdown
    except ImportError:
        pass
    else:
        out["change-rules.md"] = rules_markdown()
    return out


def nav(spec: Spec) -> list:
    items = [{"Implementations": "implementations.md"}]
    if (repository_root(spec) / "conformance" / "vectors").is_dir():
        items.append({"Test coverage": "coverage.md"})
    section: list = [{"Conformance": items}]
    try:
        import cps.differ  # noqa: F401
    except ImportError:
        return section
    return section + [{"Change rules": "change-rules.md"}]
