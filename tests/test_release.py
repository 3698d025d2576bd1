# SPDX-License-Identifier: Apache-2.0
"""`cps release` (refusals, stamping, freezing) and the frozen-release checks REL001/REL002."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cpstest import copy_fixture, edit, run_cps
from cps.cli import all_checks
from cps.loader import load
from cps.versions import load_tree

ROOT = Path(__file__).resolve().parents[1]
OAS = "schemas/openapi.yaml"
OBJ = "spec/02-objects.md"
PARAM = "        - name: partNumber\n          in: query\n          required: false\n          schema:\n            type: integer\n"
KEY_PARAM = "        - name: Key\n          in: path\n          required: true\n          schema:\n            type: string\n"


def note_change(repo, text="- Something changed.") -> None:
    edit(repo / "CHANGELOG.md", "## [Unreleased]\n", f"## [Unreleased]\n\n### Changed\n\n{text}\n")


def release(repo, *args, env=None):
    if env is None:
        return run_cps("--root", str(repo), "release", *args)
    return subprocess.run([sys.executable, "-m", "cps", "--root", str(repo), "release", *args],
                          capture_output=True, text=True, timeout=600, env=env)


def codes(repo):
    return [(d.code, d.location.path, d.location.line) for d in all_checks(load(repo))]


@pytest.fixture
def repo(tmp_path):
    r = copy_fixture(tmp_path / "repo")
    shutil.copy(ROOT / "CITATION.cff", r / "CITATION.cff")
    edit(r / OAS, KEY_PARAM, KEY_PARAM + PARAM)  # a parameter that a later draft removes
    note_change(r, "- The first draft.")
    return r


@pytest.fixture
def released(repo):
    r = release(repo, "1.0.0-rc.1", "--date", "2026-11-01")
    assert r.returncode == 0, r.stdout + r.stderr
    return repo


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0.0", "01.0.0", "1.0.0-", "latest", "draft"])
def test_refuses_a_version_that_is_not_semver(repo, version):
    r = release(repo, version)
    assert r.returncode == 1 and "is not a semantic version" in r.stderr
    assert "Traceback" not in r.stderr and not (repo / "releases").exists()


def test_refuses_a_version_not_greater_than_the_last(released):
    note_change(released)
    for version, why in [("1.0.0-rc.1", "already released"), ("0.9.0", "not greater than the last release 1.0.0-rc.1"),
                         ("1.0.0-beta.1", "not greater than the last release")]:
        r = release(released, version)
        assert r.returncode == 1 and why in r.stderr, (version, r.stderr)
        assert "Traceback" not in r.stderr


def test_refuses_when_checks_fail(repo):
    edit(repo / OBJ, "[[err:NoSuchKey]]", "[[err:NoSuchThing]]")
    r = release(repo, "1.0.0")
    assert r.returncode == 1 and "the checks fail" in r.stderr and "ERR001" in r.stdout
    assert not (repo / "releases").exists()


def test_refuses_with_an_empty_unreleased_section(tmp_path):
    repo = copy_fixture(tmp_path / "repo")
    r = release(repo, "1.0.0")
    assert r.returncode == 1 and "`## [Unreleased]` section of CHANGELOG.md is empty" in r.stderr
    # sub-headings alone are still empty
    edit(repo / "CHANGELOG.md", "## [Unreleased]\n", "## [Unreleased]\n\n### Added\n\n### Fixed\n")
    r = release(repo, "1.0.0")
    assert r.returncode == 1 and "is empty" in r.stderr
    (repo / "CHANGELOG.md").write_text("# Changelog\n", encoding="utf-8")
    r = release(repo, "1.0.0")
    assert r.returncode == 1 and "no `## [Unreleased]` section" in r.stderr
    assert not (repo / "releases").exists()


def test_refuses_a_bump_smaller_than_the_changes_need(released):
    edit(released / OAS, PARAM, "")  # breaking for clients
    note_change(released, "- Removed partNumber.")
    r = release(released, "1.1.0")
    assert r.returncode == 1
    assert "need a major version bump" in r.stderr and "release 2.0.0 instead" in r.stderr
    assert "PARAM-REMOVED" in r.stderr and "Traceback" not in r.stderr
    assert not (released / "releases" / "1.1.0").exists()
    # the final version of the pre-release may still change (pre-releases promise nothing) ...
    assert release(released, "1.0.0", "--date", "2026-11-20").returncode == 0
    # ... but after 1.0.0 an editorial change is a patch, and a new MUST needs a major
    edit(released / OBJ, "A server MAY support ranges.", "A server MAY support byte ranges.")
    note_change(released, "- Wording.")
    r = release(released, "1.0.0-rc.2")
    assert r.returncode == 1 and "not greater than the last release 1.0.0" in r.stderr
    r = release(released, "1.0.1", "--date", "2026-11-21")
    assert r.returncode == 0, r.stderr
    edit(released / OBJ, "See [[schema:Error]]", "[CPS-OBJ-004] A server MUST send `ETag`.\n\nSee [[schema:Error]]")
    note_change(released, "- New requirement.")
    r = release(released, "1.1.0")
    assert r.returncode == 1 and "need a major version bump" in r.stderr and "REQ-ADDED-MUST" in r.stderr


# ----------------------------------------------------------------------------- success
def test_release_candidate_then_final(released):
    repo = released
    frozen = repo / "releases" / "1.0.0-rc.1"
    meta = (frozen / "spec" / "cps.yaml").read_text()
    assert "version: 1.0.0-rc.1\n" in meta and "status: 'Release Candidate'\n" in meta and "date: '2026-11-01'\n" in meta
    assert "  version: 1.0.0-rc.1\n" in (frozen / OAS).read_text()
    assert "$id: https://fixture.invalid/spec/1.0.0-rc.1/schemas/Error.json\n" in (frozen / "schemas/bodies/Error.yaml").read_text()
    frozen_spec = load_tree(frozen, repo)
    assert (frozen_spec.version, frozen_spec.status, frozen_spec.date) == ("1.0.0-rc.1", "Release Candidate", "2026-11-01")
    # the working draft stays a draft; only its changelog moved on
    draft = load(repo)
    assert (draft.version, draft.status, draft.date) == ("draft", "Draft", None)
    assert "version: draft" in (repo / OAS).read_text()
    assert "\nversion: draft\n" in (repo / "CITATION.cff").read_text()  # pre-releases are not cited
    changelog = (repo / "CHANGELOG.md").read_text()
    assert changelog.index("## [Unreleased]") < changelog.index("## [1.0.0-rc.1] - 2026-11-01") < changelog.index("- The first draft.")
    frozen_changelog = (frozen / "CHANGELOG.md").read_text()
    assert "[Unreleased]" not in frozen_changelog and "## [1.0.0-rc.1] - 2026-11-01" in frozen_changelog
    # the manifest covers every file and nothing else
    listed = {}
    for line in (frozen / "MANIFEST.sha256").read_text().splitlines():
        digest, rel = line.split("  ")
        listed[rel] = digest
    files = {p.relative_to(frozen).as_posix() for p in frozen.rglob("*") if p.is_file()} - {"MANIFEST.sha256"}
    assert set(listed) == files and "spec/cps.yaml" in files and "CHANGELOG.md" in files
    assert all(hashlib.sha256((frozen / rel).read_bytes()).hexdigest() == d for rel, d in listed.items())
    assert codes(repo) == []
    # then the final version
    note_change(repo, "- Final.")
    r = release(repo, "1.0.0", "--date", "2026-11-20")
    assert r.returncode == 0, r.stderr
    assert "git tag -a v1.0.0" in r.stdout and "Released FXS 1.0.0 (Released, 2026-11-20)" in r.stdout
    assert "status: Released\n" in (repo / "releases/1.0.0/spec/cps.yaml").read_text()
    changelog = (repo / "CHANGELOG.md").read_text()
    assert changelog.index("## [Unreleased]") < changelog.index("## [1.0.0] - 2026-11-20") < changelog.index("## [1.0.0-rc.1]")
    assert codes(repo) == []
    cff = (repo / "CITATION.cff").read_text()
    assert "\nversion: 1.0.0\ndate-released: '2026-11-20'\n" in cff and "\n  version: 1.0.0\n" in cff
    assert "\n  url: https://fixture.invalid/spec/1.0.0/\n" in cff  # the preferred citation: the permanent address
    assert "\nurl: https://cloud-portable.github.io/storage/latest/\n" in cff  # the project: latest
    assert not list((repo / "releases").rglob(".cache")) and not list((repo / ".cache").glob("release-*"))


def test_tag_commits_and_tags(repo):
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=t@example.invalid",
                               "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                              capture_output=True, text=True, check=True).stdout

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "draft")
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    r = release(repo, "1.0.0", "--date", "2026-11-20", "--tag", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "v1.0.0" in git("tag", "--list")
    assert git("status", "--porcelain", "--untracked-files=no") == ""
    assert "releases/1.0.0/MANIFEST.sha256" in git("ls-files", "releases")


def test_date_from_source_date_epoch(repo):
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01T00:00:00Z
    r = release(repo, "1.0.0", env=env)
    assert r.returncode == 0, r.stderr
    assert "date: '2026-01-01'" in (repo / "releases/1.0.0/spec/cps.yaml").read_text()
    r = release(repo, "2.0.0", "--date", "2026-13-01")
    assert r.returncode == 1 and "not a calendar date" in r.stderr


# ----------------------------------------------------------------------------- frozen releases
def test_editing_a_released_file_fails_the_check(released):
    frozen = released / "releases" / "1.0.0-rc.1"
    edit(frozen / OBJ, "A server MAY support ranges.", "A server MAY support byte ranges.")
    assert ("REL001", "releases/1.0.0-rc.1/spec/02-objects.md", 1) in codes(released)
    r = run_cps("--root", str(released), "check")
    assert r.returncode == 1
    assert "releases/1.0.0-rc.1/spec/02-objects.md:1:1: REL001 releases/1.0.0-rc.1/spec/02-objects.md was modified" in r.stdout


def test_adding_or_removing_a_released_file_fails_the_check(released):
    frozen = released / "releases" / "1.0.0-rc.1"
    (frozen / "spec" / "99-extra.md").write_text("---\ntitle: Extra\nnormative: false\n---\n\nMore.\n")
    (frozen / "schemas" / "bodies" / "Error.yaml").unlink()
    found = codes(released)
    assert ("REL001", "releases/1.0.0-rc.1/spec/99-extra.md", 1) in found
    manifest_line = [i for i, line in enumerate((frozen / "MANIFEST.sha256").read_text().splitlines(), 1)
                     if line.endswith("  schemas/bodies/Error.yaml")][0]
    assert ("REL001", "releases/1.0.0-rc.1/MANIFEST.sha256", manifest_line) in found
    # tool caches that git ignores are not part of a release
    (frozen / ".cache" / "parse").mkdir(parents=True)
    (frozen / ".cache" / "parse" / "x").write_bytes(b"cache")
    assert not any(p.startswith("releases/1.0.0-rc.1/.cache") for _, p, _ in codes(released))


def test_a_missing_manifest_fails_the_check(released):
    (released / "releases" / "1.0.0-rc.1" / "MANIFEST.sha256").unlink()
    assert ("REL001", "releases/1.0.0-rc.1/MANIFEST.sha256", 1) in codes(released)


def test_a_released_id_cannot_silently_disappear(released):
    edit(released / OBJ, "- [CPS-OBJ-002]{profile=extra} A server MAY support ranges.\n", "")
    found = codes(released)
    assert [c for c in found if c[0] == "REL002"] == [("REL002", "spec/cps.yaml", 11)]
    d = [d for d in all_checks(load(released)) if d.code == "REL002"][0]
    assert "CPS-OBJ-002 is a requirement of release 1.0.0-rc.1 (releases/1.0.0-rc.1/spec/02-objects.md:13)" in d.message
    edit(released / "spec/cps.yaml", "retired_ids:\n", "retired_ids:\n  CPS-OBJ-002: ranges are out of scope\n")
    assert [c for c in codes(released) if c[0] == "REL002"] == []


def test_a_retired_id_stays_retired(released):
    edit(released / "spec/cps.yaml", "  CPS-OBJ-009: merged into CPS-OBJ-002\n", "")
    assert [c for c in codes(released) if c[0] == "REL003"] == [("REL003", "spec/cps.yaml", 11)]
    d = [d for d in all_checks(load(released)) if d.code == "REL003"][0]
    assert d.message == ("CPS-OBJ-009 is retired in release 1.0.0-rc.1 (merged into CPS-OBJ-002) but not in the "
                         "draft's retired_ids")


def test_rules_are_listed():
    r = run_cps("rules")
    assert "REL001  release-modified" in r.stdout and "REL002  released-id-dropped" in r.stdout
    assert "REL003  retired-id-restored" in r.stdout


# ----------------------------------------------------------------------------- versions
def test_semver_precedence_and_status():
    from cps import versions

    order = ["0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
             "1.0.1", "1.1.0", "2.0.0"]
    parsed = [versions.parse(v) for v in order]
    assert all(parsed) and sorted(parsed, key=versions.Version.key) == parsed
    assert [str(v) for v in parsed] == order
    for bad in ("1.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.0.0+build", ""):
        assert versions.parse(bad) is None, bad
    released = ["1.0.0-rc.1", "1.0.0", "1.1.0-rc.1"]
    assert versions.current_status("1.0.0-rc.1", released) == "Superseded"
    assert versions.current_status("1.0.0", released) == "Released"  # a newer pre-release does not supersede
    assert versions.current_status("1.1.0-rc.1", released) == "Release Candidate"
    assert versions.current_status("1.0.0", [*released, "1.1.0"]) == "Superseded"
    assert versions.current_status("draft", released) == "Draft"
    assert versions.latest_final(released) == "1.0.0" and versions.latest_final(["1.0.0-rc.1"]) is None
    assert versions.status_label("2.0.0-beta.1") == "Pre-release"
    assert versions.bump_between(versions.parse("1.0.0-rc.1"), versions.parse("1.0.0")) == "none"
    assert str(versions.next_version(versions.parse("1.2.3"), "minor")) == "1.3.0"


def test_skipped_versions_are_noted_not_refused():
    from cps.release import skipped
    from cps.versions import parse

    assert skipped(parse("1.0.0"), ["1.0.0-rc.1"]) is None
    assert skipped(parse("1.0.0-rc.2"), ["1.0.0-rc.1"]) is None
    assert skipped(parse("1.1.0"), ["1.0.0", "1.1.0-rc.1"]) is None
    assert skipped(parse("1.0.1"), ["1.0.0-rc.1"]) == "1.0.0 (the final version of 1.0.0-rc.1)"
    assert skipped(parse("1.2.0"), ["1.0.0"]) == "the next version number (1.0.1 or 1.1.0 or 2.0.0)"
