"""``cps diff``: identity (moves and reorderings are not remove + add), fingerprints, version
sources (releases/, tags, git:REF, directories), output formats, accepted changes, exit codes,
and the acceptance scenario of issue 5."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from cps import cli, differ, diffrender
from cps.loader import load

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "fixtures" / "diff" / "base"
O = "schemas/openapi.yaml"
OBJ = "spec/02-objects.md"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def copy_base(dest: Path) -> Path:
    shutil.copytree(BASE, dest, ignore=shutil.ignore_patterns(".cache"))
    return dest


def git(repo: Path, *args: str) -> str:
    r = subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
                        "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                       capture_output=True, text=True, check=True)
    return r.stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository holding the base fixture, committed and tagged v1.0.0."""
    r = copy_base(tmp_path / "repo")
    git(r, "init", "-q", "-b", "main")
    git(r, "add", "spec", "schemas")
    git(r, "commit", "-q", "-m", "base")
    git(r, "tag", "v1.0.0")
    return r


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def diff_dirs(old: Path, new: Path) -> list[differ.Change]:
    return differ.diff_specs(load(old), load(new))


# ----------------------------------------------------------------------------- identity


def test_identical_versions_give_no_changes(tmp_path):
    a, b = copy_base(tmp_path / "a"), copy_base(tmp_path / "b")
    assert diff_dirs(a, b) == []


def test_real_repository_against_itself_gives_no_changes():
    spec = load(ROOT)
    assert differ.diff_specs(spec, spec) == []


def test_reordering_is_nothing(tmp_path):
    a, b = copy_base(tmp_path / "a"), copy_base(tmp_path / "b")
    # parameters, error codes, response headers, profiles, error table entries, requirements
    edit(b / O, "        - name: partNumber\n          in: query\n          required: false\n          schema:\n"
         "            type: integer\n            minimum: 1\n            maximum: 10000\n", "")
    edit(b / O, "        - name: Range\n", "        - name: partNumber\n          in: query\n          required: false\n"
         "          schema:\n            type: integer\n            minimum: 1\n            maximum: 10000\n        - name: Range\n")
    edit(b / O, "x-cps-errors: [NoSuchKey, NoSuchBucket]", "x-cps-errors: [NoSuchBucket, NoSuchKey]")
    edit(b / O, "            Content-Length:\n              schema:\n                type: integer\n                minimum: 0\n", "")
    edit(b / O, "            ETag:\n", "            Content-Length:\n              schema:\n                minimum: 0\n"
         "                type: integer\n            ETag:\n")
    edit(b / "spec/profiles.yaml", "  - id: cors\n    name: Browser access\n    summary: CORS.\n    requires: [core]\n", "")
    edit(b / "spec/profiles.yaml", "  - id: extra\n", "  - id: cors\n    name: Browser access\n    summary: CORS.\n"
         "    requires: [core]\n  - id: extra\n")
    edit(b / "spec/errors.yaml", "  AccessDenied:\n    status: 403\n    description: Not allowed.\n", "")
    edit(b / "spec/errors.yaml", "errors:\n", "errors:\n  AccessDenied:\n    description: Not allowed.\n    status: 403\n")
    edit(b / OBJ, "[CPS-OBJ-004] A server SHOULD send `ETag` with every object.\n\n", "")
    edit(b / OBJ, "[CPS-OBJ-007] A server MAY compress stored data.\n", "[CPS-OBJ-007] A server MAY compress stored data.\n\n"
         "[CPS-OBJ-004] A server SHOULD send `ETag` with every object.\n")
    # whitespace-only rewrapping of a requirement is nothing either
    edit(b / OBJ, "for a missing key with `404` and", "for a missing key\nwith `404`   and")
    assert diff_dirs(a, b) == []


def test_requirement_moved_to_another_file_is_one_move(tmp_path):
    a, b = copy_base(tmp_path / "a"), copy_base(tmp_path / "b")
    line = "[CPS-OBJ-007] A server MAY compress stored data.\n"
    edit(b / OBJ, line, "")
    edit(b / "spec/01-conventions.md", "[CPS-CONV-002]", line + "\n[CPS-CONV-002]")
    [c] = diff_dirs(a, b)
    assert (c.rule, c.severity) == ("REQ-MOVED", "editorial")
    assert c.old_location.path == OBJ and c.new_location.path == "spec/01-conventions.md"


def test_new_path_is_path_changed_not_remove_add(tmp_path):
    a, b = copy_base(tmp_path / "a"), copy_base(tmp_path / "b")
    edit(b / O, "/{Bucket}#delete:", "/{Bucket}?delete:")
    [c] = diff_dirs(a, b)
    assert (c.rule, c.breaks) == ("OP-PATH-CHANGED", "both")


def test_keyword_synonym_is_a_rewording(tmp_path):
    a, b = copy_base(tmp_path / "a"), copy_base(tmp_path / "b")
    edit(b / OBJ, "A server MUST delete every key", "A server SHALL delete every key")
    [c] = diff_dirs(a, b)
    assert (c.rule, c.severity) == ("REQ-REWORDED", "editorial")


def test_fingerprint_ignores_line_numbers(tmp_path):
    a, b, c = (copy_base(tmp_path / n) for n in "abc")
    edit(b / O, "x-cps-errors: [NoSuchKey, NoSuchBucket]", "x-cps-errors: [NoSuchKey]")
    edit(c / O, "x-cps-errors: [NoSuchKey, NoSuchBucket]", "x-cps-errors: [NoSuchKey]")
    edit(c / O, "paths:\n", "# a comment\n\n\npaths:\n")
    edit(c / OBJ, "## Reading", "Some informative text.\n\n## Reading")
    [x] = diff_dirs(a, b)
    [y] = diff_dirs(a, c)
    assert x.new_location.line != y.new_location.line
    assert x.fingerprint == y.fingerprint == differ.fingerprint(x.rule, x.subject, x.old, x.new)


def test_bump():
    mk = lambda sev: differ.Change("REQ-REWORDED", sev, "none", {}, None, None, "m")  # noqa: E731
    assert differ.required_bump([]) == "none"
    assert differ.required_bump([mk("editorial")]) == "patch"
    assert differ.required_bump([mk("editorial"), mk("non-breaking")]) == "minor"
    assert differ.required_bump([mk("non-breaking"), mk("breaking")]) == "major"


# ----------------------------------------------------------------------------- acceptance scenario


def _scenario_edits(draft: Path) -> None:
    # (1) remove a parameter, (2) add a MUST requirement, (3) reword a sentence of a requirement
    edit(draft / O, "        - name: partNumber\n          in: query\n          required: false\n          schema:\n"
         "            type: integer\n            minimum: 1\n            maximum: 10000\n", "")
    edit(draft / OBJ, "## Deleting", "[CPS-OBJ-011] A server MUST reject an empty object key.\n\n## Deleting")
    edit(draft / OBJ, "A server MUST answer [[op:GetObject]] for a missing key",
         "A server MUST answer [[op:GetObject]] for a key that does not exist")


@pytest.mark.parametrize("frozen", [False, True], ids=["tag", "releases-dir"])
def test_acceptance_scenario(repo, capsys, frozen):
    if frozen:  # the version as `cps release` freezes it, instead of the git tag
        git(repo, "tag", "-d", "v1.0.0")
        (repo / "releases" / "1.0.0").mkdir(parents=True)
        shutil.copytree(repo / "spec", repo / "releases" / "1.0.0" / "spec")
        shutil.copytree(repo / "schemas", repo / "releases" / "1.0.0" / "schemas")
    _scenario_edits(repo)
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "draft", "--format", "json", "--no-cache")
    result = json.loads(out)
    got = sorted((c["rule"], c["severity"], c["breaks"]) for c in result["changes"])
    assert got == [
        ("PARAM-REMOVED", "breaking", "clients"),
        ("REQ-ADDED-MUST", "breaking", "servers"),
        ("REQ-REWORDED", "editorial", "none"),
    ]
    assert result["summary"]["bump"] == "major"
    assert result["old"]["kind"] == ("release" if frozen else "tag")
    assert code == 1
    assert not (repo / "releases" / "1.0.0" / ".cache").exists()  # the frozen copy stays untouched
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "1.0.0")
    assert code == 1 and "Required version bump: major" in out


# ----------------------------------------------------------------------------- version sources


def test_git_ref_and_directory_sides(repo, tmp_path, capsys):
    other = copy_base(tmp_path / "other")
    edit(other / O, "maximum: 10000", "maximum: 5000")
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "git:HEAD", str(other), "--format", "json")
    result = json.loads(out)
    assert [c["rule"] for c in result["changes"]] == ["PARAM-LIMIT-NARROWED"]
    assert result["old"]["kind"] == "git" and result["new"]["kind"] == "path"
    assert code == 1


def test_latest_and_cps_prefixed_tag(repo, capsys):
    git(repo, "tag", "-d", "v1.0.0")
    git(repo, "tag", "cps-1.1.0")
    edit(repo / OBJ, "for a missing key", "for an absent key")
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "latest", "draft", "--format", "json")
    result = json.loads(out)
    assert result["old"]["source"].startswith("tag cps-1.1.0")
    assert [c["rule"] for c in result["changes"]] == ["REQ-REWORDED"]
    assert result["summary"]["bump"] == "patch"
    assert code == 0


@pytest.mark.parametrize("args, needle", [
    (("9.9.9",), "version 9.9.9 not found: no releases/9.9.9/ directory and no git tag v9.9.9 or cps-9.9.9"),
    (("git:no-such-branch",), "git revision 'no-such-branch' not found"),
    (("no/such/dir",), "'no/such/dir' not found"),
    (("main",), "did you mean git:main?"),
    ((), "cps diff needs OLD"),
])
def test_bad_versions_are_usage_errors(repo, capsys, args, needle):
    code, out, err = run_cli(capsys, "--root", str(repo), "diff", *args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err + out


def test_unreadable_side_is_a_usage_error(repo, capsys):
    (repo / "spec" / "errors.yaml").write_text("errors: [unclosed\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "draft", "--no-cache")
    assert code == 2 and "cannot be read" in err and "spec/errors.yaml" in err


def test_cache_gives_the_same_result(repo, capsys):
    _scenario_edits(repo)
    first = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--format", "json")
    assert list((repo / ".cache" / "cps-diff").glob("*.json"))
    second = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--format", "json")
    assert first == second


# ----------------------------------------------------------------------------- formats


@pytest.fixture
def scenario(repo):
    _scenario_edits(repo)
    return repo


def test_json_output_validates_against_its_schema(scenario, capsys):
    _, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0", "--format", "json")
    schema = json.loads(diffrender.SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(out), schema)


def test_text_output_groups_by_severity(scenario, capsys):
    _, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0")
    assert out.index("Breaking (2)") < out.index("Editorial (1)")
    assert "PARAM-REMOVED [breaks clients]" in out
    assert "old: 1.0.0:schemas/openapi.yaml:" in out
    assert "3 changes: 2 breaking, 0 non-breaking, 1 editorial; 0 accepted" in out


def test_markdown_output_is_a_table(scenario, capsys):
    _, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0", "--format", "markdown")
    assert "**Required version bump: major**" in out
    assert "| Severity | Rule | Breaks | Change | Location | Fingerprint |" in out
    assert out.count("\n| 🔴 breaking") == 2 and out.count("\n| ⚪ editorial") == 1


def test_github_annotations(scenario, capsys):
    _, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0", "--format", "github")
    lines = out.splitlines()
    assert sum(1 for l in lines if l.startswith("::error ")) == 2
    assert sum(1 for l in lines if l.startswith("::notice ")) == 1
    req = next(l for l in lines if "REQ-ADDED-MUST" in l)
    assert req.startswith("::error file=spec/02-objects.md,line=") and "breaks servers" in req
    # the removed parameter is annotated on its operation in the new version
    param = next(l for l in lines if "PARAM-REMOVED" in l)
    assert "file=schemas/openapi.yaml,line=" in param


def test_github_warning_for_non_breaking(repo, capsys):
    edit(repo / OBJ, "## Deleting", "[CPS-OBJ-011] A server SHOULD cache listings.\n\n## Deleting")
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--format", "github")
    assert out.startswith("::warning file=spec/02-objects.md") and code == 0


# ----------------------------------------------------------------------------- exit codes and accepted changes


def test_fail_on(repo, capsys):
    edit(repo / OBJ, "for a missing key", "for an absent key")  # editorial only
    assert run_cli(capsys, "--root", str(repo), "diff", "1.0.0")[0] == 0
    assert run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--fail-on", "any")[0] == 1
    edit(repo / O, "maximum: 10000", "maximum: 5000")  # breaking
    assert run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--fail-on", "none")[0] == 0
    assert run_cli(capsys, "--root", str(repo), "diff", "1.0.0")[0] == 1


def _fingerprints(capsys, repo) -> dict[str, str]:
    _, out, _ = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--format", "json")
    return {c["rule"]: c["fingerprint"] for c in json.loads(out)["changes"]}


def test_accepted_changes_are_not_reported(scenario, capsys):
    fps = _fingerprints(capsys, scenario)
    (scenario / ".cps-accepted-changes.yaml").write_text(
        "# Reviewed changes (cps diff)\n"
        f"- fingerprint: {fps['PARAM-REMOVED']}\n  rule: PARAM-REMOVED\n  reason: partNumber never worked anywhere\n"
        "  accepted_by: reviewer\n"
        f"- fingerprint: {fps['REQ-ADDED-MUST']}\n  rule: REQ-ADDED-MUST\n  reason: every provider already rejects it\n"
        "- fingerprint: 0123456789abcdef\n  rule: OP-REMOVED\n  reason: an old entry\n",
        encoding="utf-8")
    code, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0")
    assert code == 0  # the remaining change is editorial
    assert "PARAM-REMOVED" not in out.split("stale")[0]
    assert "1 change: 0 breaking, 0 non-breaking, 1 editorial; 2 accepted" in out
    assert "Required version bump: major" in out  # accepted breaking changes still need a major version
    assert "0123456789abcdef OP-REMOVED" in out  # stale entry
    code, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0", "--show-accepted")
    assert "(accepted: partNumber never worked anywhere)" in out
    _, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0", "--format", "json")
    result = json.loads(out)
    assert result["summary"]["accepted"] == 2 and result["summary"]["breaking"] == 0
    assert {c["rule"]: c["accepted_by"] for c in result["changes"]}["PARAM-REMOVED"] == "reviewer"
    assert [e["fingerprint"] for e in result["stale_accepted"]] == ["0123456789abcdef"]


def test_accepted_entry_needs_matching_rule(scenario, capsys, tmp_path):
    fps = _fingerprints(capsys, scenario)
    f = tmp_path / "acc.yaml"
    f.write_text(f"- fingerprint: {fps['PARAM-REMOVED']}\n  rule: OP-REMOVED\n  reason: wrong rule\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "--root", str(scenario), "diff", "1.0.0", "--accepted", str(f))
    assert code == 1 and "0 accepted" in out


@pytest.mark.parametrize("content, needle", [
    ("- fingerprint: abc\n  rule: OP-REMOVED\n  reason: x\n", "not 16 lower-case hex digits"),
    ("- fingerprint: 0123456789abcdef\n  rule: NOPE\n  reason: x\n", "unknown rule 'NOPE'"),
    ("- fingerprint: 0123456789abcdef\n  rule: OP-REMOVED\n", "lacks reason"),
    ("- [unclosed\n", "YAML"),
])
def test_malformed_accepted_file_is_a_usage_error(repo, capsys, tmp_path, content, needle):
    f = tmp_path / "acc.yaml"
    f.write_text(content, encoding="utf-8")
    code, _, err = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--accepted", str(f))
    assert code == 2 and needle in err


def test_missing_accepted_file_is_a_usage_error(repo, capsys):
    code, _, err = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "--accepted", "nope.yaml")
    assert code == 2 and "nope.yaml" in err


def test_list_rules(capsys):
    code, out, _ = run_cli(capsys, "diff", "--list-rules")
    assert code == 0 and out == differ.rules_markdown()


def test_rules_are_listed_by_cps_rules(capsys):
    code, out, _ = run_cli(capsys, "rules")
    assert code == 0 and "REQ-KEYWORD-STRENGTHENED" in out


def test_release_directories_are_shown_with_their_repository_path(repo, capsys):
    for v in ("1.0.0", "1.1.0"):
        (repo / "releases" / v).mkdir(parents=True)
        shutil.copytree(BASE / "spec", repo / "releases" / v / "spec")
        shutil.copytree(BASE / "schemas", repo / "releases" / v / "schemas")
    edit(repo / "releases" / "1.1.0" / OBJ, "for a missing key", "for an absent key")
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "1.1.0")
    assert code == 0 and "new: releases/1.1.0/spec/02-objects.md:11:1" in out
    _, out, _ = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "1.1.0", "--format", "github")
    assert out.startswith("::notice file=releases/1.1.0/spec/02-objects.md,line=11,col=1,title=REQ-REWORDED")
    for v in ("1.0.0", "1.1.0"):
        assert not (repo / "releases" / v / ".cache").exists()


def test_acceptance_scenario_on_the_real_specification(tmp_path, capsys):
    """Issue 5 on a scratch copy of the real repository: version it, then change the draft by
    removing a parameter, adding a MUST and rewording a requirement."""
    import re

    repo = tmp_path / "real"
    repo.mkdir()
    for part in ("spec", "schemas"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns(".cache"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "spec", "schemas")
    git(repo, "commit", "-q", "-m", "1.0.0")
    git(repo, "tag", "v1.0.0")
    spec = load(repo)
    snap = differ.snapshot(spec)

    # (1) a parameter given by reference in the first operation that has a non-path one
    lines = (repo / O).read_text(encoding="utf-8").split("\n")
    removed = None
    for op_id, op in snap["ops"].items():
        for key, p in op["params"].items():
            ref = f"- $ref: '#/components/parameters/"
            line = lines[p["loc"][1] - 1] if p["loc"][0] == O else ""
            if p["in"] != "path" and ref in line:
                del lines[p["loc"][1] - 1]
                removed = (op_id, key)
                break
        if removed:
            break
    if removed is None:
        pytest.skip("no operation with a parameter given by $ref")
    (repo / O).write_text("\n".join(lines), encoding="utf-8")
    # (2) a MUST in an existing profile, with the next free ID of its area
    core_doc = next(d for d in spec.documents if d.normative and d.meta.get("profile", "core") == "core"
                    and any(r.id.startswith("CPS-OBJ-") for r in d.requirements))
    used = {int(r.id.rsplit("-", 1)[1]) for r in spec.requirements if r.id.startswith("CPS-OBJ-")}
    used |= {int(r.rsplit("-", 1)[1]) for r in spec.retired_ids if r.startswith("CPS-OBJ-")}
    new_id = f"CPS-OBJ-{max(used) + 1:03d}"
    with open(repo / core_doc.rel, "a", encoding="utf-8") as fh:
        fh.write(f"\n\n[{new_id}] A server MUST reject a request that names no object key.\n")
    # (3) reword one sentence of a requirement, keeping its keyword
    target = next(r for r in spec.requirements if r.keyword == "MUST" and r.text.startswith("A server MUST")
                  and r.location.path != core_doc.rel)
    path = repo / target.location.path
    text_lines = path.read_text(encoding="utf-8").split("\n")
    i = target.location.line - 1
    assert re.search(r"\bA server MUST\b", text_lines[i])
    text_lines[i] = text_lines[i].replace("A server MUST", "Any server MUST", 1)
    path.write_text("\n".join(text_lines), encoding="utf-8")

    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "1.0.0", "draft", "--format", "json", "--no-cache")
    result = json.loads(out)
    got = sorted((c["rule"], c["severity"], c["breaks"], json.dumps(c["subject"], sort_keys=True)) for c in result["changes"])
    assert got == sorted([
        ("PARAM-REMOVED", "breaking", "clients", json.dumps({"operation": removed[0], "parameter": removed[1]}, sort_keys=True)),
        ("REQ-ADDED-MUST", "breaking", "servers", json.dumps({"requirement": new_id})),
        ("REQ-REWORDED", "editorial", "none", json.dumps({"requirement": target.id})),
    ])
    assert result["summary"]["bump"] == "major" and code == 1


def test_no_changes_via_the_cli(repo, capsys):
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "v1.0.0", "draft", "--format", "json")
    result = json.loads(out)
    jsonschema.validate(result, json.loads(diffrender.SCHEMA_PATH.read_text(encoding="utf-8")))
    assert code == 0 and result["changes"] == [] and result["summary"]["bump"] == "none"
    code, out, _ = run_cli(capsys, "--root", str(repo), "diff", "v1.0.0", "--fail-on", "any")
    assert code == 0 and "No changes." in out


def test_installed_command(scenario):
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "cps"), "--root", str(scenario), "diff", "1.0.0", "draft"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Required version bump: major" in r.stdout and not r.stderr
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "cps"), "--root", str(scenario), "diff", "7.7.7"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "version 7.7.7 not found" in r.stderr and "Traceback" not in r.stderr
