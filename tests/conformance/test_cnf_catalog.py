"""The catalogue: vector validation (CNF001, CNF005) and traceability (CNF002, CNF003, CNF004, CNF006)."""

from __future__ import annotations

from pathlib import Path

from cnf_support import ROOT
from cps.conformance.catalog import check_traceability, coverage, load_tests
from cps.conformance.reqs import MiniSpec, Prof, Req, load_spec
from cps.diagnostics import ERROR, WARNING, Location


def _write(root: Path, name: str, text: str) -> None:
    d = root / "conformance" / "vectors"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")


GOOD = """tests:
  - id: t-one
    title: one
    profile: core
    requirements: [CPS-OBJ-001]
    steps:
      - op: GetObject
        key: k
"""


def test_valid_vector_has_location(tmp_path):
    _write(tmp_path, "a.yaml", GOOD)
    tests, diags = load_tests(tmp_path)
    vec = [t for t in tests if t.kind == "vector"]
    assert diags == [] and [t.id for t in vec] == ["t-one"]
    assert vec[0].location == Location("conformance/vectors/a.yaml", 2, 9)
    # code-based tests belong to repositories that ship them, with the same metadata as vectors
    assert not any(t.kind == "code" for t in tests)
    code = [t for t in load_tests(ROOT)[0] if t.kind == "code"]
    assert code and all(t.requirements and t.profile and t.location.path == "tools/cps/conformance/codetests.py" for t in code)


def test_cnf001_schema_and_syntax(tmp_path):
    _write(tmp_path, "bad.yaml", GOOD.replace("op: GetObject", "op: FrobnicateObject"))
    _write(tmp_path, "syntax.yaml", "tests: [\n  {id: x\n")
    _write(tmp_path, "matcher.yaml", GOOD.replace("        key: k\n", "        key: k\n        expect: {headers: {ETag: {regexp: x}}}\n"))
    _write(tmp_path, "noreq.yaml", GOOD.replace("requirements: [CPS-OBJ-001]", "requirements: []").replace("t-one", "t-two"))
    _, diags = load_tests(tmp_path)
    by_file = {d.location.path.rsplit("/", 1)[-1]: d for d in diags}
    assert {d.code for d in diags} == {"CNF001"}
    assert by_file["bad.yaml"].location.line == 7 and "FrobnicateObject" in by_file["bad.yaml"].message
    assert "syntax" in by_file["syntax.yaml"].message.lower()
    assert "regexp" in by_file["matcher.yaml"].message
    assert by_file["noreq.yaml"].location.line == 5


def test_cnf005_duplicate_ids(tmp_path):
    _write(tmp_path, "a.yaml", GOOD)
    _write(tmp_path, "b.yaml", GOOD)
    tests, diags = load_tests(tmp_path)
    assert [d.code for d in diags] == ["CNF005"]
    assert sum(1 for t in tests if t.id == "t-one") == 1


def _spec() -> MiniSpec:
    spec = MiniSpec(Path("."))
    spec.profiles = {"core": Prof("core", "Core", []), "multipart": Prof("multipart", "Multipart", ["core"])}
    spec.retired_ids = {"CPS-OBJ-099": "merged"}
    loc = Location("spec/07-objects.md", 10, 1)
    spec.requirements = [
        Req("CPS-OBJ-001", "core", "server", "test", "07-objects", "A server MUST ...", loc, "MUST"),
        Req("CPS-OBJ-002", "core", "server", "test", "07-objects", "A server MUST ...", Location("spec/07-objects.md", 12, 1), "MUST"),
        Req("CPS-OBJ-003", "core", "client", "inspection", "07-objects", "A client MUST ...", loc, "MUST"),
        Req("CPS-MPU-001", "multipart", "server", "test", "09-multipart", "A server MUST ...", loc, "MUST"),
    ]
    return spec


def _tc(tid, profile, reqs):
    from cps.conformance.catalog import TestCase

    return TestCase(tid, tid, profile, reqs, Location("conformance/vectors/x.yaml", 3, 9))


def test_traceability_rules():
    spec = _spec()
    tests = [_tc("a-ok", "core", ["CPS-OBJ-001"]),
             _tc("b-unknown", "core", ["CPS-OBJ-777"]),
             _tc("c-retired", "core", ["CPS-OBJ-099"]),
             _tc("d-mismatch", "core", ["CPS-MPU-001"]),
             _tc("e-client", "core", ["CPS-OBJ-003"]),
             _tc("f-bad-profile", "nonsense", ["CPS-OBJ-001"])]
    diags = check_traceability(spec, tests)
    codes = sorted((d.code, d.severity) for d in diags)
    assert ("CNF002", ERROR) in codes and sum(1 for c, _ in codes if c == "CNF002") == 2
    assert any("retired" in d.message for d in diags if d.code == "CNF002")
    assert sum(1 for c, _ in codes if c == "CNF004") == 2   # wrong profile, unknown profile
    assert ("CNF006", WARNING) in codes
    untested = [d for d in diags if d.code == "CNF003"]
    assert [d.severity for d in untested] == [WARNING]
    assert "CPS-OBJ-002" in untested[0].message and untested[0].location.line == 12
    # a multipart test may cite a core requirement (multipart requires core)
    assert not [d for d in check_traceability(spec, [_tc("g", "multipart", ["CPS-OBJ-001"])]) if d.code == "CNF004"]


def test_coverage_counts():
    spec = _spec()
    cov = coverage(spec, [_tc("a", "core", ["CPS-OBJ-001"]), _tc("b", "multipart", ["CPS-MPU-001"])])
    assert cov["profiles"]["core"]["requirements"] == 2 and cov["profiles"]["core"]["covered"] == 1
    assert cov["profiles"]["core"]["uncovered"] == ["CPS-OBJ-002"]
    assert cov["profiles"]["multipart"]["percent"] == 100.0
    assert cov["total"] == {"requirements": 3, "covered": 2, "tests": 2, "percent": 66.7, "must": 3, "must_covered": 2}


def test_coverage_markdown():
    from cps.conformance.catalog import coverage_markdown

    md = coverage_markdown(_spec(), [_tc("a", "core", ["CPS-OBJ-001"])])
    assert "| core | 2 | 1 | 50.0% | 1/2 | 1 |" in md and "`CPS-OBJ-002`" in md and "`CPS-MPU-001`" in md


def test_repository_catalogue_traces_to_the_spec():
    """Every test in the repository cites requirements that exist, in a compatible profile."""
    spec = load_spec(ROOT)
    tests, diags = load_tests(ROOT)
    assert diags == []
    errors = [d for d in check_traceability(spec, tests) if d.severity == ERROR]
    assert errors == [], "\n".join(f"{d.location}: {d.code} {d.message}" for d in errors)
