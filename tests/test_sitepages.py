"""The Implementations page is generated from committed result files, never written by hand."""

from __future__ import annotations

import json

from cpstest import run_cps
from cps.loader import load
from cps.sitepages import pages


def write_result(repo, impl, version, outcome, message):
    d = repo / "conformance" / "results" / impl / version
    d.mkdir(parents=True)
    result = {
        "spec_version": "draft", "suite_version": "9.9.9", "finished": "2026-01-02T03:04:05+00:00",
        "summary": {"tests": 1, "pass": int(outcome == "pass"), "fail": int(outcome == "fail"), "blocked": 0, "error": 0, "skipped": 0},
        "profile_verdicts": {"core": {"verdict": "conforms" if outcome == "pass" else "does-not-conform",
                                      "counts": {"pass": int(outcome == "pass"), "fail": int(outcome == "fail")}, "tests": 1}},
        "requirements": {"CPS-OBJ-001": {"verdict": outcome, "keyword": "MUST", "profile": "core", "tests": ["obj-get-missing-key"]}},
        "tests": [{"id": "obj-get-missing-key", "outcome": outcome, "requirements": ["CPS-OBJ-001"], "message": message}],
    }
    (d / "result.json").write_text(json.dumps(result), encoding="utf-8")
    (d / "report.html").write_text("<!DOCTYPE html><title>report</title>", encoding="utf-8")


def test_page_shows_measured_verdicts_failures_and_links(repo):
    write_result(repo, "goodserver", "2.0", "pass", "")
    write_result(repo, "badserver", "1.4.1", "fail", "status: expected 404, got 200")
    got = pages(load(repo))
    page = got["implementations.md"]
    assert "| [badserver](#impl-badserver-1-4-1) | 1.4.1 | 2026-01-02 | 9.9.9 | draft | does not conform (0/1 pass) |" in page
    assert "conforms (1/1 pass)" in page
    # every failure cites its requirement (linked to its permanent anchor) and what the server did
    assert "| `obj-get-missing-key` | fail | [CPS-OBJ-001](02-objects.md#CPS-OBJ-001) | status: expected 404, got 200 |" in page
    assert got["results/badserver-1.4.1-report.html"].startswith("<!DOCTYPE html>")
    assert "coverage.md" in got and "CPS-OBJ-001" not in got["coverage.md"].split("without a test")[-1]


def test_no_results_says_so(repo):
    assert "No results have been submitted yet." in pages(load(repo))["implementations.md"]


def test_built_site_has_the_pages(repo):
    write_result(repo, "badserver", "1.4.1", "fail", "status: expected 404, got 200")
    r = run_cps("--root", str(repo), "build")
    assert r.returncode == 0, r.stdout + r.stderr
    html = (repo / "site" / "draft" / "implementations" / "index.html").read_text()
    assert "badserver" in html and "expected 404, got 200" in html
    assert (repo / "site" / "draft" / "results" / "badserver-1.4.1-report.html").is_file()
    assert (repo / "site" / "draft" / "coverage" / "index.html").is_file()
