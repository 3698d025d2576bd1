# SPDX-License-Identifier: Apache-2.0
"""`cps build` with frozen releases: versioned site, status banners, citations, changes pages,
per-version artifacts (PDF included), permanent addresses and byte-identical rebuilds."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cpstest import copy_fixture, edit, run_cps

OAS = "schemas/openapi.yaml"
OBJ = "spec/02-objects.md"
PARAM = "        - name: partNumber\n          in: query\n          required: false\n          schema:\n            type: integer\n"
KEY_PARAM = "        - name: Key\n          in: path\n          required: true\n          schema:\n            type: string\n"


def cps(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cps", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def note_change(repo: Path, text: str) -> None:
    edit(repo / "CHANGELOG.md", "## [Unreleased]\n", f"## [Unreleased]\n\n### Changed\n\n{text}\n")


def make_history(repo: Path) -> Path:
    """1.0.0-rc.1 (2026-11-01), then 1.0.0 (2026-11-20) after removing a parameter; the draft
    then rewords a requirement."""
    edit(repo / OAS, KEY_PARAM, KEY_PARAM + PARAM)
    note_change(repo, "- The first draft.")
    assert cps("--root", str(repo), "release", "1.0.0-rc.1", "--date", "2026-11-01").returncode == 0
    edit(repo / OAS, PARAM, "")
    note_change(repo, "- partNumber removed.")
    r = cps("--root", str(repo), "release", "1.0.0", "--date", "2026-11-20")
    assert r.returncode == 0, r.stderr
    edit(repo / OBJ, "A server MAY support ranges.", "A server MAY support byte ranges.")
    return repo


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    repo = make_history(copy_fixture(tmp_path_factory.mktemp("versions") / "repo"))
    r = cps("--root", str(repo), "build")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "released versions 1.0.0-rc.1, 1.0.0 (latest: 1.0.0)" in r.stdout
    return repo


def page(repo: Path, rel: str) -> str:
    return (repo / "site" / rel).read_text(encoding="utf-8")


def banner(html: str) -> str:
    m = re.search(r'<div class="admonition [a-z]+ cps-status" data-cps-status="([^"]+)">\s*<p class="admonition-title">([^<]+)</p>', html)
    assert m, "no status banner"
    return f"{m.group(1)} | {m.group(2)}"


def test_versioned_layout(built):
    site = built / "site"
    for v in ("1.0.0-rc.1", "1.0.0", "draft", "latest"):
        for rel in ("index.html", "02-objects/index.html", "operations/index.html", "requirements/index.html",
                    "schemas/Error/index.html", "changes/index.html", "downloads/index.html", "sitemap.xml"):
            assert (site / v / rel).is_file(), f"{v}/{rel}"
    versions = json.loads((site / "versions.json").read_text())
    assert versions == [
        {"version": "draft", "title": "draft (Draft)", "aliases": []},
        {"version": "1.0.0", "title": "1.0.0 (Released)", "aliases": ["latest"]},
        {"version": "1.0.0-rc.1", "title": "1.0.0-rc.1 (Superseded)", "aliases": []},
    ]
    root = (site / "index.html").read_text()
    assert 'http-equiv="refresh" content="0; url=latest/"' in root
    # latest/ is the newest final release
    assert (site / "latest" / "02-objects" / "index.html").read_bytes() == (site / "1.0.0" / "02-objects" / "index.html").read_bytes()
    # each version's pages know their permanent address and offer the version selector
    assert '<link rel="canonical" href="https://fixture.invalid/spec/1.0.0/02-objects/">' in page(built, "1.0.0/02-objects/index.html")
    assert '"version": {"default": "latest", "provider": "mike"}' in page(built, "1.0.0/index.html")
    # the JSON Schemas are served where their $id says
    schema = json.loads(page(built, "1.0.0/schemas/Error.json"))
    assert schema["$id"] == "https://fixture.invalid/spec/1.0.0/schemas/Error.json"
    assert json.loads(page(built, "draft/schemas/Error.json"))["$id"].endswith("/spec/draft/schemas/Error.json")


def test_status_banner_on_every_page(built):
    assert banner(page(built, "1.0.0/02-objects/index.html")) == "Released | FXS 1.0.0 · Released · 2026-11-20"
    assert banner(page(built, "1.0.0-rc.1/index.html")) == "Superseded | FXS 1.0.0-rc.1 · Superseded · 2026-11-01"
    assert banner(page(built, "draft/schemas/Error/index.html")) == "Draft | FXS draft · Draft"
    for v in ("1.0.0", "1.0.0-rc.1", "draft"):
        for html in (built / "site" / v).rglob("*.html"):
            if html.name != "404.html" and html.parent.name != "downloads":
                banner(html.read_text(encoding="utf-8"))
    # links to other versions are relative to the page and land on the version root
    assert 'superseded by <a href="../../1.0.0/">1.0.0</a>' in page(built, "1.0.0-rc.1/02-objects/index.html")
    assert 'The current version is <a href="../../1.0.0/">1.0.0</a>' in page(built, "draft/schemas/index.html") \
        if (built / "site/draft/schemas/index.html").exists() else True
    assert 'The current version is <a href="../../../1.0.0/">1.0.0</a>' in page(built, "draft/schemas/Error/index.html")


def test_requirement_permalinks_come_from_the_frozen_sources(built):
    for v in ("1.0.0-rc.1", "1.0.0", "draft"):
        objects = page(built, f"{v}/02-objects/index.html")
        for rid in ("CPS-OBJ-001", "CPS-OBJ-002", "CPS-OBJ-003"):
            assert f'id="{rid}"' in objects and f'href="#{rid}"' in objects
    assert "byte ranges" in page(built, "draft/02-objects/index.html")
    assert "byte ranges" not in page(built, "1.0.0/02-objects/index.html")
    catalog = json.loads((built / "dist" / "1.0.0" / "requirements.json").read_text())
    assert catalog["version"] == "1.0.0" and catalog["status"] == "Released" and catalog["date"] == "2026-11-20"
    assert catalog["requirements"][0]["url"] == "https://fixture.invalid/spec/1.0.0/01-conventions/#CPS-CONV-001"


def test_citation_and_changes_pages(built):
    home = page(built, "1.0.0/index.html")
    assert 'id="how-to-cite"' in home
    assert "Fixture Storage contributors. Fixture Storage (FXS), version 1.0.0. Released, 2026-11-20. " \
           "https://fixture.invalid/spec/1.0.0/. Licensed under CC-BY-4.0." in home
    text = re.sub(r"<[^>]+>", "", home)  # the BibTeX block is syntax-highlighted
    assert "@techreport{fxs-1-0-0," in text and "url = {https://fixture.invalid/spec/1.0.0/}" in text
    changes = re.sub(r"<[^>]+>", "", page(built, "1.0.0/changes/index.html"))
    assert "Changes from 1.0.0-rc.1 to 1.0.0" in changes and "PARAM-REMOVED" in changes and "major" in changes
    draft_changes = re.sub(r"<[^>]+>", "", page(built, "draft/changes/index.html"))
    assert "Changes from 1.0.0 to draft" in draft_changes and "REQ-REWORDED" in draft_changes
    assert "first published version" in page(built, "1.0.0-rc.1/changes/index.html")
    # with the version's changelog entry
    assert "partNumber removed." in changes and 'id="changelog-entry"' in page(built, "1.0.0/changes/index.html")


def test_artifacts_per_version(built):
    dist = built / "dist"
    for v in ("1.0.0-rc.1", "1.0.0", "draft"):
        names = {p.name for p in (dist / v).iterdir()}
        assert names == {"openapi.yaml", "openapi.json", "cps-schemas.zip", "requirements.json", "cps.html", "cps.pdf",
                         "SHA256SUMS"}
        for line in (dist / v / "SHA256SUMS").read_text().splitlines():
            digest, name = line.split("  ")
            assert hashlib.sha256((dist / v / name).read_bytes()).hexdigest() == digest
            # the site serves the same bytes
            assert (built / "site" / v / "downloads" / name).read_bytes() == (dist / v / name).read_bytes()
        downloads = page(built, f"{v}/downloads/index.html")
        pdf_digest = hashlib.sha256((dist / v / "cps.pdf").read_bytes()).hexdigest()
        assert pdf_digest in downloads and "pending" not in downloads
    top = (dist / "SHA256SUMS").read_text()
    assert "  1.0.0/cps.pdf\n" in top and "  draft/openapi.json\n" in top
    api = json.loads((dist / "1.0.0" / "openapi.json").read_text())
    assert api["info"]["version"] == "1.0.0" and api["info"]["license"]["identifier"] == "Apache-2.0"
    assert "# SPDX-License-Identifier: Apache-2.0" in (dist / "1.0.0" / "openapi.yaml").read_text()
    with zipfile.ZipFile(dist / "1.0.0" / "cps-schemas.zip") as zf:
        assert sorted(zf.namelist()) == ["cps-schemas-1.0.0/Error.json", "cps-schemas-1.0.0/LICENSE"]
        assert json.loads(zf.read("cps-schemas-1.0.0/Error.json"))["$id"] == "https://fixture.invalid/spec/1.0.0/schemas/Error.json"
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
        assert b"Apache-2.0" in zf.read("cps-schemas-1.0.0/LICENSE")
    single = (dist / "1.0.0" / "cps.html").read_text()
    assert 'id="CPS-OBJ-001"' in single and "Status: Released" in single


def test_pdf_is_typeset_with_metadata_from_the_spec(built):
    data = (built / "dist" / "1.0.0" / "cps.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and re.search(rb"/ID \[", data)
    draft = (built / "dist" / "draft" / "cps.pdf").read_bytes()
    if not shutil.which("pdfinfo"):
        pytest.skip("pdfinfo (poppler-utils) is needed to read the compressed document information")

    def info(path: Path) -> dict[str, str]:
        out = subprocess.run(["pdfinfo", "-isodates", str(path)], capture_output=True, text=True).stdout
        return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}

    meta = info(built / "dist" / "1.0.0" / "cps.pdf")
    assert meta["Title"] == "Fixture Storage 1.0.0"
    assert meta["CreationDate"] == meta["ModDate"] == "2026-11-20T00:00:00Z"
    assert "SPDX-License-Identifier: CC-BY-4.0" in meta["Subject"] and "CC-BY-4.0" in meta["Keywords"]
    assert meta["Author"] == "Fixture Storage contributors" and meta["Page size"].endswith("(A4)")
    draft_meta = info(built / "dist" / "draft" / "cps.pdf")
    assert "CreationDate" not in draft_meta  # the draft has no date, and the clock is never used
    assert draft.startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(built / "dist" / "1.0.0" / "cps.pdf"), "-"], capture_output=True,
                              text=True).stdout
        for expected in ("Fixture Storage (FXS)", "Version", "1.0.0", "Released", "2026-11-20", "CC-BY-4.0",
                         "Contents", "CPS-OBJ-001", "CPS-CONV-001"):
            assert expected in text, expected


def test_without_releases_latest_is_the_draft(tmp_path):
    repo = copy_fixture(tmp_path / "repo")
    assert cps("--root", str(repo), "build").returncode == 0
    site = repo / "site"
    assert json.loads((site / "versions.json").read_text()) == [
        {"version": "draft", "title": "draft (Draft)", "aliases": ["latest"]}]
    assert (site / "latest" / "index.html").read_bytes() == (site / "draft" / "index.html").read_bytes()
    assert "No version has been released yet." in page(repo, "draft/index.html")


def test_builds_are_reproducible_and_releases_permanent(tmp_path):
    """Two builds of the same sources, in different places, on different days (a shifted clock) and
    with a different SOURCE_DATE_EPOCH and time zone, give byte-identical dist/ (PDFs included); a
    release's artifacts do not change when a newer version is released."""
    a = copy_fixture(tmp_path / "a")
    edit(a / OAS, KEY_PARAM, KEY_PARAM + PARAM)
    note_change(a, "- The first draft.")
    assert cps("--root", str(a), "release", "1.0.0-rc.1", "--date", "2026-11-01").returncode == 0
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert cps("--root", str(a), "build", env={"SOURCE_DATE_EPOCH": "1700000000", "TZ": "UTC"}).returncode == 0
    # b is built "three days later": the clock the build (and its PDF workers) sees is moved forward
    later = ("import sys, time; _now = time.time; time.time = lambda: _now() + 3 * 86400; "
             "from cps.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", later, "--root", str(b), "build"], capture_output=True, text=True,
                       timeout=600, env={**os.environ, "SOURCE_DATE_EPOCH": "1900000000", "TZ": "Asia/Tokyo"})
    assert r.returncode == 0, r.stdout + r.stderr

    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    # with only a pre-release, latest/ is still the draft, whose banner names the pre-release
    assert json.loads((a / "site" / "versions.json").read_text())[0] == {
        "version": "draft", "title": "draft (Draft)", "aliases": ["latest"]}
    assert 'the newest pre-release is <a href="../1.0.0-rc.1/">1.0.0-rc.1</a>' in page(a, "draft/index.html")
    assert banner(page(a, "1.0.0-rc.1/index.html")) == "Release Candidate | FXS 1.0.0-rc.1 · Release Candidate · 2026-11-01"
    dist_a = tree(a / "dist")
    assert (a / "dist" / "SHA256SUMS").read_text() == (b / "dist" / "SHA256SUMS").read_text()
    assert dist_a == tree(b / "dist")
    assert "1.0.0-rc.1/cps.pdf" in dist_a
    # cut 1.0.0 and rebuild: every artifact of 1.0.0-rc.1 keeps its bytes
    note_change(a, "- Final.")
    assert cps("--root", str(a), "release", "1.0.0", "--date", "2026-11-20").returncode == 0
    assert cps("--root", str(a), "build").returncode == 0
    after = tree(a / "dist")
    assert {k: v for k, v in after.items() if k.startswith("1.0.0-rc.1/")} == \
           {k: v for k, v in dist_a.items() if k.startswith("1.0.0-rc.1/")}
    assert "Superseded" in page(a, "1.0.0-rc.1/index.html")


def test_issue_5_acceptance_scenario(tmp_path):
    """Cut 1.0.0-rc.1; then remove a parameter, add a MUST and reword a sentence in the draft:
    `cps diff` reports exactly those three changes with their severities, `cps release` refuses a
    minor bump, editing the frozen release fails `cps check`, and two builds give identical
    SHA256SUMS."""
    repo = copy_fixture(tmp_path / "repo")
    edit(repo / OAS, KEY_PARAM, KEY_PARAM + PARAM)
    note_change(repo, "- The first draft.")
    r = cps("--root", str(repo), "release", "1.0.0-rc.1", "--date", "2026-11-01")
    assert r.returncode == 0, r.stderr
    assert "git tag -a v1.0.0-rc.1" in r.stdout
    # the three changes
    edit(repo / OAS, PARAM, "")
    edit(repo / OBJ, "See [[schema:Error]]", "[CPS-OBJ-004] A server MUST send an `ETag` header.\n\nSee [[schema:Error]]")
    edit(repo / OBJ, "A server MAY support ranges.", "A server MAY support byte ranges.")
    note_change(repo, "- partNumber removed, CPS-OBJ-004 added, CPS-OBJ-002 reworded.")
    r = cps("--root", str(repo), "diff", "1.0.0-rc.1", "draft", "--format", "json")
    changes = sorted((c["rule"], c["severity"]) for c in json.loads(r.stdout)["changes"])
    assert changes == [("PARAM-REMOVED", "breaking"), ("REQ-ADDED-MUST", "breaking"), ("REQ-REWORDED", "editorial")]
    # a minor bump is refused
    r = cps("--root", str(repo), "release", "1.1.0")
    assert r.returncode == 1 and "need a major version bump" in r.stderr and "1.1.0 is a minor bump" in r.stderr
    assert not (repo / "releases" / "1.1.0").exists()
    # the frozen release cannot be edited
    frozen = repo / "releases" / "1.0.0-rc.1" / OBJ
    original = frozen.read_bytes()
    edit(frozen, "A server MAY support ranges.", "A server MAY support byte ranges.")
    r = cps("--root", str(repo), "check")
    assert r.returncode == 1 and "REL001" in r.stdout and "releases/1.0.0-rc.1/spec/02-objects.md" in r.stdout
    frozen.write_bytes(original)
    assert cps("--root", str(repo), "check").returncode == 0
    # two builds, identical SHA256SUMS (and bytes)
    assert cps("--root", str(repo), "build").returncode == 0
    first = {p.relative_to(repo / "dist").as_posix(): p.read_bytes() for p in (repo / "dist").rglob("*") if p.is_file()}
    shutil.rmtree(repo / ".cache")
    assert cps("--root", str(repo), "build", env={"SOURCE_DATE_EPOCH": "2000000000"}).returncode == 0
    second = {p.relative_to(repo / "dist").as_posix(): p.read_bytes() for p in (repo / "dist").rglob("*") if p.is_file()}
    assert first["SHA256SUMS"] == second["SHA256SUMS"] and first == second
    assert {"1.0.0-rc.1/cps.pdf", "draft/cps.pdf"} <= set(first)


def test_cps_no_pdf_leaves_the_pdf_out(tmp_path):
    repo = copy_fixture(tmp_path / "repo")
    r = cps("--root", str(repo), "build", env={"CPS_NO_PDF": "1"})
    assert r.returncode == 0 and "CPS_NO_PDF is set" in r.stderr
    assert not (repo / "dist" / "draft" / "cps.pdf").exists()
    assert "cps.pdf" not in (repo / "dist" / "draft" / "SHA256SUMS").read_text()
    assert "cps.pdf" not in page(repo, "draft/downloads/index.html")
