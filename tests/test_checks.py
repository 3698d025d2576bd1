"""Each check rule: a broken fixture proves it fires (with file and line), the clean one stays quiet."""

from __future__ import annotations

import json

import pytest

from cpstest import edit, run_cps
from cps.cli import all_checks
from cps.loader import load


def codes(repo):
    """Findings of the spec checks (the conformance traceability rules have their own tests)."""
    return [(d.code, d.location.path, d.location.line) for d in all_checks(load(repo)) if not d.code.startswith("CNF")]


def test_clean_fixture_is_clean(repo):
    assert codes(repo) == []


# (rule code, file, old text, new text, expected file, expected line)
CASES = [
    ("YML001", "spec/errors.yaml", "    status: 404\n", "    status: [404\n", "spec/errors.yaml", 4),
    ("SRC001", "spec/errors.yaml", "errors:", "errs:", "spec/errors.yaml", 1),
    ("MD001", "spec/02-objects.md", "---\ntitle: Objects\nnormative: true\n", "---\ntitle: Objects\n", "spec/02-objects.md", 1),
    ("OAS001", "schemas/openapi.yaml", "          description: The object.\n", "          descriptio: The object.\n", "schemas/openapi.yaml", 26),
    ("OAS002", "schemas/openapi.yaml", "$ref: bodies/Error.yaml", "$ref: bodies/Eror.yaml", "schemas/openapi.yaml", 41),
    ("OAS003", "schemas/openapi.yaml", "      operationId: GetObject\n", "", "schemas/openapi.yaml", 10),
    ("SCH001", "schemas/bodies/Error.yaml", "  Message:\n    type: string", "  Message:\n    type: text", "schemas/bodies/Error.yaml", 12),
    ("SCH002", "schemas/bodies/Error.yaml", "  name: Error", "  name: Err", "schemas/bodies/Error.yaml", 7),
    ("EXM001", "schemas/bodies/Error.yaml", "  - Code: NoSuchKey\n", "  - Cod: NoSuchKey\n", "schemas/bodies/Error.yaml", 15),
    ("EXM001", "spec/02-objects.md", "<Error><Code>NoSuchKey</Code>", "<Error><Kode>NoSuchKey</Kode>", "spec/02-objects.md", 16),
    ("EXM002", "spec/02-objects.md", "```xml example=Error", "```xml example=Eror", "spec/02-objects.md", 16),
    ("EXM003", "schemas/openapi.yaml", "value: <Error><Code>NoSuchKey</Code>", "value: <Error><Code>NoSuchKey</Cod>", "schemas/openapi.yaml", 37),
    ("REQ001", "spec/02-objects.md", "[CPS-OBJ-001]", "[CPS-OBJ-01]", "spec/02-objects.md", 11),
    ("REQ001", "spec/02-objects.md", "[CPS-OBJ-001]", "[CPS-XYZ-001]", "spec/02-objects.md", 11),
    ("REQ002", "spec/02-objects.md", "[CPS-OBJ-003]", "[CPS-OBJ-001]", "spec/02-objects.md", 14),
    ("REQ003", "spec/02-objects.md", "[CPS-OBJ-003]", "[CPS-OBJ-009]", "spec/02-objects.md", 14),
    ("REQ004", "spec/02-objects.md", "A server MAY support ranges.", "A server MAY and SHOULD support ranges.", "spec/02-objects.md", 13),
    ("REQ004", "spec/02-objects.md", "A server MAY support ranges.", "A server supports ranges.", "spec/02-objects.md", 13),
    ("REQ005", "spec/02-objects.md", "See [[schema:Error]]", "A server MUST see [[schema:Error]]", "spec/02-objects.md", 20),
    ("REQ005", "spec/00-introduction.md", "This informative section must not", "This informative section MUST not", "spec/00-introduction.md", 6),
    ("REQ006", "spec/02-objects.md", "[CPS-OBJ-002]{profile=extra}", "[CPS-OBJ-002]{profile=extra colour=red}", "spec/02-objects.md", 13),
    ("REQ007", "spec/02-objects.md", "[CPS-OBJ-002]{profile=extra}", "[CPS-OBJ-002]{profile=bogus}", "spec/02-objects.md", 13),
    ("REQ007", "spec/02-objects.md", "[CPS-OBJ-002]{profile=extra}", "[CPS-OBJ-002]{subject=robot}", "spec/02-objects.md", 13),
    ("REQ008", "spec/00-introduction.md", "This informative", "[CPS-CONV-002] A server MUST be nice.\n\nThis informative", "spec/00-introduction.md", 6),
    ("PRF001", "spec/profiles.yaml", "requires: [core]", "requires: [cor]", "spec/profiles.yaml", 6),
    ("PRF001", "schemas/openapi.yaml", "x-cps-profile: core", "x-cps-profile: gold", "schemas/openapi.yaml", 13),
    ("LNK001", "spec/02-objects.md", "[[req:CPS-OBJ-001]]", "[[req:CPS-OBJ-077]]", "spec/02-objects.md", 20),
    ("LNK001", "spec/01-conventions.md", "[[sec:02-objects#op-GetObject]]", "[[sec:02-objects#nowhere]]", "spec/01-conventions.md", 13),
    ("LNK001", "spec/02-objects.md", "[[schema:Error]]", "[[schema:Nope]]", "spec/02-objects.md", 20),
    ("LNK001", "spec/02-objects.md", "[[profile:core]]", "[[profile:gold]]", "spec/02-objects.md", 20),
    ("LNK002", "spec/02-objects.md", "[[profile:core]]", "[[prof:core]]", "spec/02-objects.md", 20),
    ("LNK003", "spec/01-conventions.md", "(02-objects.md#reading)", "(02-objects.md#writing)", "spec/01-conventions.md", 13),
    ("LNK003", "spec/01-conventions.md", "(02-objects.md#reading)", "(03-missing.md)", "spec/01-conventions.md", 13),
    ("LNK004", "spec/02-objects.md", "## Reading {#reading}", "## Reading {#reading}\n\n## Again {#reading}", "spec/02-objects.md", 9),
    ("OPS001", "spec/02-objects.md", "### GetObject {#op-GetObject}", "### GetObject {#op-Get}", "schemas/openapi.yaml", 10),
    ("OPS002", "spec/02-objects.md", "## Reading {#reading}", "## Reading {#reading}\n\n### PutObject {#op-PutObject}", "spec/02-objects.md", 9),
    ("OPS002", "spec/02-objects.md", "[[op:GetObject]]", "[[op:PutObject]]", "spec/02-objects.md", 11),
    ("ERR001", "spec/02-objects.md", "[[err:NoSuchKey]]", "[[err:NoSuchThing]]", "spec/02-objects.md", 11),
    ("ERR001", "schemas/openapi.yaml", "x-cps-errors: [NoSuchKey]", "x-cps-errors: [NoSuchThing]", "schemas/openapi.yaml", 30),
    ("ERR002", "schemas/openapi.yaml", "x-cps-errors: [NoSuchKey]", "x-cps-errors: [AccessDenied]", "schemas/openapi.yaml", 30),
]


@pytest.mark.parametrize("code,rel,old,new,where,line", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_with_location(repo, code, rel, old, new, where, line):
    edit(repo / rel, old, new)
    found = codes(repo)
    assert (code, where, line) in found, found


def test_every_rule_has_a_failing_fixture():
    import cps.checks  # noqa: F401
    import cps.fmt  # noqa: F401
    from cps.diagnostics import RULES

    import re

    prefixes = ("YML", "SRC", "MD", "OAS", "SCH", "EXM", "REQ", "PRF", "LNK", "OPS", "ERR")
    own = {c for c in RULES if re.fullmatch(r"[A-Z]{2,3}\d{3}", c) and c.rstrip("0123456789") in prefixes}
    tested = {c[0] for c in CASES}
    assert own <= tested, f"rules without a failing fixture: {sorted(own - tested)}"


def test_keywords_in_code_and_quotes_do_not_count(repo):
    edit(repo / "spec/00-introduction.md", 'it says "MUST" only in quotes.', 'it says "MUST" and `SHOULD` only in quotes.')
    assert codes(repo) == []


def test_keyword_split_across_lines_counts_once(repo):
    edit(repo / "spec/02-objects.md", "A server MAY support ranges.", "A server MUST\nNOT drop ranges.")
    spec = load(repo)
    req = spec.requirement("CPS-OBJ-002")
    assert req.keyword == "MUST NOT"


def test_cli_exit_codes_and_formats(repo):
    ok = run_cps("--root", str(repo), "check")
    assert ok.returncode == 0 and "All checks passed." in ok.stdout
    edit(repo / "spec/02-objects.md", "[[err:NoSuchKey]]", "[[err:NoSuchThing]]")
    bad = run_cps("--root", str(repo), "check")
    assert bad.returncode == 1
    assert "spec/02-objects.md:11:86: ERR001 error code NoSuchThing is not defined in spec/errors.yaml" in bad.stdout
    assert bad.stdout.rstrip().endswith("Found 1 error in 1 file.")
    js = json.loads(run_cps("--root", str(repo), "check", "--format", "json").stdout)
    assert js["summary"] == {"errors": 1, "warnings": 0}
    assert js["diagnostics"][0]["location"] == {"path": "spec/02-objects.md", "line": 11, "col": 86}
    gh = run_cps("--root", str(repo), "check", "--format", "github").stdout
    assert gh.startswith("::error file=spec/02-objects.md,line=11,col=86,title=ERR001::error code NoSuchThing")
    usage = run_cps("--root", str(repo), "check", "--format", "xml")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_broken_yaml_gives_one_diagnostic_and_no_traceback(repo):
    (repo / "schemas/openapi.yaml").write_text("openapi: 3.1.0\ninfo: [unclosed\n", encoding="utf-8")
    r = run_cps("--root", str(repo), "check")
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    yml = [line for line in r.stdout.splitlines() if "YML001" in line]
    assert len(yml) == 1 and yml[0].startswith("schemas/openapi.yaml:3:1: YML001 YAML syntax error")


def test_works_from_a_subdirectory_like_git(repo):
    r = run_cps("check", cwd=repo / "spec")
    assert r.returncode == 0, r.stdout + r.stderr


def test_outside_a_repository_is_a_usage_error(tmp_path):
    r = run_cps("check", cwd=tmp_path)
    assert r.returncode == 2 and "not inside a CPS specification repository" in r.stderr
    assert "Traceback" not in r.stderr
