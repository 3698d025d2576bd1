#!/usr/bin/env python3
"""Regenerate the reference conformance results: conformance/results/<implementation>/<version>/.

Usage (from the repository root, after ./dev test has installed the tools):

    .venv/bin/python conformance/run-reference.py            # moto and s3rver
    .venv/bin/python conformance/run-reference.py moto       # one of them

For each implementation it starts the pinned server on a free port of 127.0.0.1 (moto's
standalone server from the virtual environment, s3rver from node_modules), claims every profile
so that every test runs, and writes result.json, junit.xml and report.html. s3rver 3.7.1 exits on
some requests; the server is then restarted on the same port and data directory, tests run one
at a time (--jobs 1) so that a crash only affects the test that caused it, and that test is
recorded as `error` with the message of the dropped connection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from cps.conformance import report, servers  # noqa: E402
from cps.conformance.catalog import load_tests  # noqa: E402
from cps.conformance.reqs import load_spec, profile_closure  # noqa: E402

JOBS = {"moto": 4, "s3rver": 1}


def run_reference(name: str, out_root: Path, jobs: int | None = None, large: bool = False) -> dict:
    spec = load_spec(ROOT)
    tests, diags = load_tests(ROOT)
    if diags:
        raise SystemExit("invalid vectors:\n" + "\n".join(f"{d.location}: {d.code} {d.message}" for d in diags))
    srv = servers.start(name, supervise=True)
    try:
        run = servers.run_suite(srv, spec, tests, profile_closure(spec, list(spec.profiles)),
                                jobs=jobs or JOBS.get(name, 4), large=large)
        target = {"endpoint": srv.url, "implementation": name, "version": srv.version}
        if srv.restarts:
            target["note"] = f"the server process exited {srv.restarts} time(s) during the run and was restarted"
        result = report.build_result(run, spec, target)
        out = out_root / name / srv.version
        netloc = srv.url.split("//", 1)[1]
        report.write_reports(result, out, [srv.secret_key], spec, replace={netloc: "127.0.0.1:<port>", srv.url: "http://127.0.0.1:<port>"})
        return result
    finally:
        srv.stop()


def write_index(out_root: Path) -> Path:
    """conformance/results/README.md: one line per implementation and profile, from the result files."""
    import json

    rows = []
    for f in sorted(out_root.glob("*/*/result.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        name, version = f.parent.parent.name, f.parent.name
        s = d["summary"]
        verdicts = ", ".join(f"{p}: {v['verdict']}" for p, v in d["profile_verdicts"].items())
        rows.append(f"| {name} | {version} | {s['tests']} | {s['pass']} | {s['fail']} | {s['blocked']} | "
                    f"{s['error']} | {s['skipped']} | {verdicts} | [report]({name}/{version}/report.html) |")
    text = ("# Reference conformance results\n\n"
            "<!-- SPDX-License-Identifier: CC-BY-4.0 -->\n\n"
            "Measured with `conformance/run-reference.py` (every profile claimed, so that every test runs).\n"
            "Each directory holds `result.json` (schemas/conformance-result.schema.json), `junit.xml` and a\n"
            "self-contained `report.html` with the request and response of every failure.\n\n"
            "| implementation | version | tests | pass | fail | blocked | error | skipped | verdict per profile | |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n")
    path = out_root / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("implementations", nargs="*", metavar="IMPLEMENTATION", help="moto, s3rver (default: both)")
    ap.add_argument("--out", type=Path, default=ROOT / "conformance" / "results")
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--large", action="store_true",
                    help="also run the tests with objects over 5 GiB (not for moto: it keeps objects in memory)")
    args = ap.parse_args(argv)
    for name in args.implementations or ["moto", "s3rver"]:
        if name not in servers.STARTERS:
            ap.error(f"unknown implementation {name!r} (known: {', '.join(sorted(servers.STARTERS))})")
        res = run_reference(name, args.out, args.jobs, args.large)
        s = res["summary"]
        print(f"{name} {res['target']['version']}: {s['tests']} tests, {s['pass']} pass, {s['fail']} fail, "
              f"{s['blocked']} blocked, {s['error']} error, {s['skipped']} skipped")
        for p, v in res["profile_verdicts"].items():
            print(f"  {p:<20} {v['verdict']}")
    write_index(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
