"""The catalogue of conformance tests (YAML vectors plus code-based tests) and its traceability.

* :func:`load_tests` reads ``conformance/vectors/*.yaml`` (validated against
  ``schemas/conformance-vector.schema.json``) and the code-based tests registered in
  :mod:`cps.conformance.codetests`.
* :func:`check_traceability` checks tests against the spec: every test cites existing
  requirements of a compatible profile, every server requirement verified by test has a test.
* :func:`coverage` counts covered requirements per profile.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cps.diagnostics import WARNING, Diagnostic, Location, rule
from cps.yamlio import load_yaml, to_plain

VECTOR_INVALID = rule("CNF001", "conformance-vector-invalid",
                      "A conformance vector file is not valid YAML or does not follow schemas/conformance-vector.schema.json.")
UNKNOWN_REQUIREMENT = rule("CNF002", "conformance-unknown-requirement",
                           "A conformance test cites a requirement ID that does not exist in spec/ (or is retired).")
UNTESTED_REQUIREMENT = rule("CNF003", "conformance-untested-requirement",
                            "A server requirement verified by test has no conformance test.", WARNING)
PROFILE_MISMATCH = rule("CNF004", "conformance-profile-mismatch",
                        "A conformance test's profile neither is nor requires the profile of a requirement it cites, or is unknown.")
DUPLICATE_TEST = rule("CNF005", "conformance-duplicate-test",
                      "Two conformance tests have the same ID.")
CITES_NON_TESTABLE = rule("CNF006", "conformance-cites-untestable",
                          "A conformance test cites a requirement on clients or one verified by inspection.", WARNING)

VECTOR_DIR = "conformance/vectors"
CODETESTS_REL = "tools/cps/conformance/codetests.py"
SCHEMA_REL = "schemas/conformance-vector.schema.json"


@dataclass
class TestCase:
    id: str
    title: str
    profile: str
    requirements: list[str]
    location: Location
    kind: str = "vector"  # "vector" or "code"
    data: dict[str, Any] | None = None  # the plain vector (kind == "vector")
    func: Callable[..., Any] | None = None  # the test function (kind == "code")
    bucket: str = "shared"  # shared | fresh | cors | none
    description: str = ""
    needs_profiles: list[str] = field(default_factory=list)  # must also be claimed, else not applicable
    needs: list[str] = field(default_factory=list)  # run conditions, e.g. "second-identity"

    __test__ = False  # not a pytest class

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "profile": self.profile, "requirements": list(self.requirements),
                "kind": self.kind, "source": {"file": self.location.path, "line": self.location.line}}


_SCHEMA_CACHE: dict[str, Any] = {}


def _validator(root: Path):
    import jsonschema

    p = root / SCHEMA_REL
    if not p.exists():  # a scratch copy without schemas/: use the one shipped with this checkout
        p = Path(__file__).resolve().parents[3] / SCHEMA_REL
    key = str(p)
    if key not in _SCHEMA_CACHE:
        schema = json.loads(p.read_text(encoding="utf-8"))
        _SCHEMA_CACHE[key] = jsonschema.Draft202012Validator(schema)
    return _SCHEMA_CACHE[key]


def _best_errors(validator, data) -> list:
    """Leaf-most schema errors (the useful ones under oneOf), one per instance path."""
    from jsonschema.exceptions import best_match

    out = []
    seen = set()
    for err in validator.iter_errors(data):
        e = best_match([err])
        path = tuple(e.absolute_path)
        if path in seen:
            continue
        seen.add(path)
        out.append(e)
    return out


def _check_matchers(expect: Any, where: list, diags: list, yf) -> None:
    """Static check of the matchers in an ``expect`` mapping found at path ``where``."""
    from cps.conformance.matcher import OPERATORS

    def walk(m, path):
        if isinstance(m, dict):
            bad = set(m) - OPERATORS
            if bad:
                diags.append(VECTOR_INVALID.at(yf.loc(*path), f"unknown matcher operator(s) {', '.join(sorted(bad))}",
                                               hint=f"operators: {', '.join(sorted(OPERATORS))}"))
            for k in ("not", "all"):
                if k in m:
                    walk(m[k], path + [k])
            for i, sub in enumerate(m.get("any_of") or []):
                walk(sub, path + ["any_of", i])
        elif isinstance(m, list):
            for i, sub in enumerate(m):
                walk(sub, path + [i])

    if not isinstance(expect, dict):
        return
    for section in ("headers", "xml"):
        for k, m in (expect.get(section) or {}).items():
            walk(m, where + [section, k])
    for k in ("status", "error"):
        if isinstance(expect.get(k), dict):
            walk(expect[k], where + [k])
    for i, alt in enumerate(expect.get("any_of") or []):
        _check_matchers(alt, where + ["any_of", i], diags, yf)


def load_vector_file(root: Path, rel: str) -> tuple[list[TestCase], list[Diagnostic]]:
    yf, diags = load_yaml(root, rel)
    if yf is None:
        return [], [VECTOR_INVALID.at(d.location, d.message) for d in diags]
    data = to_plain(yf.data)
    errors = _best_errors(_validator(root), data)
    diags = []
    for e in errors:
        path = list(e.absolute_path)
        where = "/".join(str(p) for p in path) or "(top level)"
        diags.append(VECTOR_INVALID.at(yf.loc(*path), f"{where}: {e.message}"))
    tests: list[TestCase] = []
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        return tests, diags
    bad_tests = {e.absolute_path[1] for e in errors if len(e.absolute_path) >= 2 and e.absolute_path[0] == "tests"}
    for i, t in enumerate(data["tests"]):
        if not isinstance(t, dict):
            continue
        for section in ("setup", "steps"):
            for j, step in enumerate(t.get(section) or []):
                if isinstance(step, dict):
                    _check_matchers(step.get("expect"), ["tests", i, section, j, "expect"], diags, yf)
        if i in bad_tests or not isinstance(t.get("id"), str):
            continue
        tests.append(TestCase(
            id=t["id"], title=t.get("title", ""), profile=t.get("profile", "core"),
            requirements=list(t.get("requirements") or []), location=yf.loc("tests", i, "id"),
            kind="vector", data=t, bucket=t.get("bucket", "shared"), description=t.get("description", ""),
            needs_profiles=list(t.get("needs_profiles") or []), needs=list(t.get("needs") or []),
        ))
    return tests, diags


def code_tests(root: Path) -> list[TestCase]:
    from cps.conformance import codetests

    out = []
    for meta in codetests.REGISTRY:
        fn = meta["func"]
        try:
            src = Path(inspect.getsourcefile(fn) or "").resolve()
            rel = src.relative_to(root.resolve()).as_posix()
        except (TypeError, ValueError, OSError):
            rel = "tools/cps/conformance/codetests.py"
        try:
            line = inspect.getsourcelines(fn)[1]
        except (OSError, TypeError):
            line = 1
        out.append(TestCase(id=meta["id"], title=meta["title"], profile=meta["profile"],
                            requirements=list(meta["requirements"]), location=Location(rel, line, 1),
                            kind="code", func=fn, bucket=meta.get("bucket", "shared"),
                            description=meta.get("description", ""), needs_profiles=meta.get("needs_profiles", []),
                            needs=meta.get("needs", [])))
    return out


def load_tests(root: Path, vector_dir: Path | None = None) -> tuple[list[TestCase], list[Diagnostic]]:
    """Every vector and code-based test, with diagnostics for invalid vector files."""
    root = Path(root)
    vdir = vector_dir or (root / VECTOR_DIR)
    tests: list[TestCase] = []
    diags: list[Diagnostic] = []
    files = sorted(list(vdir.glob("*.yaml")) + list(vdir.glob("*.yml"))) if vdir.is_dir() else []
    for f in files:
        try:
            rel = f.resolve().relative_to(root.resolve()).as_posix()
            base = root
        except ValueError:
            rel, base = f.name, f.parent
        t, d = load_vector_file(base, rel)
        tests += t
        diags += d
    # Code-based tests live in the toolkit; they belong to repositories that ship it (this one, its
    # forks and scratch copies), not to every specification tree cps is pointed at.
    if (root / CODETESTS_REL).exists():
        tests += code_tests(root)
    seen: dict[str, TestCase] = {}
    unique = []
    for t in tests:
        if t.id in seen:
            diags.append(DUPLICATE_TEST.at(t.location, f"test ID {t.id} is already used at {seen[t.id].location}"))
            continue
        seen[t.id] = t
        unique.append(t)
    return unique, diags


# ---------------------------------------------------------------- traceability


def _profiles(spec) -> dict[str, Any]:
    p = getattr(spec, "profiles", None)
    return p if isinstance(p, dict) else {}


def _requires(spec, profile: str) -> set[str]:
    from cps.conformance.reqs import profile_closure

    return set(profile_closure(spec, [profile]))


def is_testable(req) -> bool:
    return getattr(req, "subject", "server") == "server" and getattr(req, "verify", "test") == "test"


def check_traceability(spec, tests: list[TestCase]) -> list[Diagnostic]:
    reqs = {r.id: r for r in spec.requirements}
    retired = dict(getattr(spec, "retired_ids", None) or {})
    profiles = _profiles(spec)
    diags: list[Diagnostic] = []
    tested: set[str] = set()
    for t in tests:
        if profiles and t.profile not in profiles:
            diags.append(PROFILE_MISMATCH.at(t.location, f"test {t.id} names unknown profile {t.profile!r}",
                                             hint=f"profiles: {', '.join(profiles)}"))
        closure = _requires(spec, t.profile) if profiles else set()
        for rid in t.requirements:
            r = reqs.get(rid)
            if r is None:
                why = f" (retired: {retired[rid]})" if rid in retired else ""
                diags.append(UNKNOWN_REQUIREMENT.at(t.location, f"test {t.id} cites {rid}, which is not a requirement in spec/{why}"))
                continue
            tested.add(rid)
            if profiles and t.profile in profiles and r.profile not in closure:
                diags.append(PROFILE_MISMATCH.at(
                    t.location, f"test {t.id} (profile {t.profile}) cites {rid} of profile {r.profile}",
                    hint=f"move the test to profile {r.profile} or cite a requirement of {t.profile}"))
            if not is_testable(r):
                diags.append(CITES_NON_TESTABLE.at(
                    t.location, f"test {t.id} cites {rid} (subject={r.subject}, verify={r.verify}); conformance tests verify server requirements"))
    for r in spec.requirements:
        if is_testable(r) and r.id not in tested:
            diags.append(UNTESTED_REQUIREMENT.at(r.location, f"{r.id} (profile {r.profile}) has no conformance test",
                                                 hint="add a vector under conformance/vectors/ that cites it"))
    return diags


def coverage(spec, tests: list[TestCase]) -> dict[str, Any]:
    """Per profile: server requirements verified by test, how many have a test, which do not."""
    tested = {rid for t in tests for rid in t.requirements}
    per: dict[str, dict[str, Any]] = {}
    order = list(_profiles(spec)) or sorted({r.profile for r in spec.requirements})
    for p in order:
        per[p] = {"requirements": 0, "covered": 0, "uncovered": [], "tests": 0, "must": 0, "must_covered": 0}
    for r in spec.requirements:
        if not is_testable(r):
            continue
        d = per.setdefault(r.profile, {"requirements": 0, "covered": 0, "uncovered": [], "tests": 0, "must": 0, "must_covered": 0})
        d["requirements"] += 1
        must = (getattr(r, "keyword", None) or "") in ("MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT")
        d["must"] += must
        if r.id in tested:
            d["covered"] += 1
            d["must_covered"] += must
        else:
            d["uncovered"].append(r.id)
    for t in tests:
        if t.profile in per:
            per[t.profile]["tests"] += 1
    for d in per.values():
        d["percent"] = round(100.0 * d["covered"] / d["requirements"], 1) if d["requirements"] else None
    total_r = sum(d["requirements"] for d in per.values())
    total_c = sum(d["covered"] for d in per.values())
    return {
        "profiles": per,
        "total": {"requirements": total_r, "covered": total_c, "tests": len(tests),
                  "percent": round(100.0 * total_c / total_r, 1) if total_r else None,
                  "must": sum(d["must"] for d in per.values()),
                  "must_covered": sum(d["must_covered"] for d in per.values())},
    }


def conformance_check(spec) -> list[Diagnostic]:
    """The check ``cps check`` runs: vector files valid, tests traced to requirements and back."""
    tests, diags = load_tests(Path(spec.root))
    return diags + check_traceability(spec, tests)


CHECKS = [conformance_check]


def coverage_markdown(spec, tests: list[TestCase]) -> str:
    """The coverage figure as a Markdown table (for the built site or a CI summary)."""
    cov = coverage(spec, tests)
    lines = ["| profile | server requirements verified by test | with a test | coverage | MUST covered | tests |",
             "| --- | --- | --- | --- | --- | --- |"]
    for p, d in cov["profiles"].items():
        pct = f"{d['percent']}%" if d["percent"] is not None else "n/a"
        lines.append(f"| {p} | {d['requirements']} | {d['covered']} | {pct} | {d['must_covered']}/{d['must']} | {d['tests']} |")
    t = cov["total"]
    pct = f"{t['percent']}%" if t["percent"] is not None else "n/a"
    lines.append(f"| **total** | {t['requirements']} | {t['covered']} | {pct} | {t['must_covered']}/{t['must']} | {t['tests']} |")
    untested = [rid for d in cov["profiles"].values() for rid in d["uncovered"]]
    if untested:
        lines.append("")
        lines.append("Requirements without a test: " + ", ".join(f"`{r}`" for r in untested) + ".")
    return "\n".join(lines) + "\n"
