"""`cps build` end to end on the fixture: a real mkdocs-material build, artifacts, privacy, atomicity."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cpstest import copy_fixture, edit, run_cps

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    repo = copy_fixture(tmp_path_factory.mktemp("site") / "repo")
    r = run_cps("--root", str(repo), "build")
    assert r.returncode == 0, r.stdout + r.stderr
    return repo


def test_pages_are_generated_from_the_model(built):
    site = built / "site" / "draft"
    objects = (site / "02-objects" / "index.html").read_text()
    # a permanent anchor per requirement, with its profile
    assert 'id="CPS-OBJ-001"' in objects and 'href="#CPS-OBJ-001"' in objects
    assert 'id="op-GetObject"' in objects
    # cross-references became links
    assert 'href="../errors/#err-NoSuchKey"' in objects
    assert 'href="../schemas/Error/"' in objects
    ops = (site / "operations" / "index.html").read_text()
    assert "GET /{Bucket}/{Key}" in ops and "CPS-OBJ-001" in ops and "NoSuchKey" in ops
    reqs = (site / "requirements" / "index.html").read_text()
    for rid in ("CPS-CONV-001", "CPS-OBJ-001", "CPS-OBJ-002", "CPS-OBJ-003"):
        assert f'href="../02-objects/#{rid}"' in reqs or f'href="../01-conventions/#{rid}"' in reqs
    schema = (site / "schemas" / "Error" / "index.html").read_text()
    assert "&lt;Error&gt;" in schema and "NoSuchKey" in schema
    assert (site / "changelog" / "index.html").is_file()
    downloads = (site / "downloads" / "index.html").read_text()
    assert "SHA256SUMS" in (site / "downloads" / "SHA256SUMS").name and "openapi.json" in downloads


def test_dist_artifacts_and_checksums(built):
    dist = built / "dist" / "draft"
    names = {p.name for p in dist.iterdir()}
    assert {"openapi.yaml", "openapi.json", "cps-schemas.zip", "requirements.json", "cps.html", "SHA256SUMS"} <= names
    for line in (dist / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest
    catalog = json.loads((dist / "requirements.json").read_text())
    first = catalog["requirements"][0]
    assert first["id"] == "CPS-CONV-001" and first["keyword"] == "MUST" and first["profile"] == "core"
    assert first["source"] == {"file": "spec/01-conventions.md", "line": 11}
    assert first["url"] == "https://fixture.invalid/spec/draft/01-conventions/#CPS-CONV-001"
    api = json.loads((dist / "openapi.json").read_text())
    assert api["components"]["schemas"]["Error"]["xml"]["name"] == "Error"  # inlined, not a file $ref
    assert api["paths"]["/{Bucket}/{Key}"]["get"]["x-cps-requirements"] == ["CPS-OBJ-001", "CPS-OBJ-002", "CPS-OBJ-003"]
    with zipfile.ZipFile(dist / "cps-schemas.zip") as zf:
        assert sorted(zf.namelist()) == ["cps-schemas-draft/Error.json", "cps-schemas-draft/LICENSE"]
        assert json.loads(zf.read("cps-schemas-draft/Error.json"))["title"] == "Error"
    single = (dist / "cps.html").read_text()
    assert 'id="CPS-OBJ-001"' in single and 'href="#CPS-OBJ-001"' in single


class _Loads(HTMLParser):
    """Collect every URL the browser would fetch while rendering the page."""

    LOADING = {("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"), ("video", "src"),
               ("audio", "src"), ("embed", "src"), ("object", "data"), ("track", "src"), ("input", "src")}
    LINK_RELS = {"stylesheet", "icon", "preload", "prefetch", "modulepreload", "manifest", "preconnect", "dns-prefetch",
                 "apple-touch-icon"}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for t, attr in self.LOADING:
            if tag == t and a.get(attr):
                self.urls.append(a[attr])
        if tag == "link" and set((a.get("rel") or "").split()) & self.LINK_RELS and a.get("href"):
            self.urls.append(a["href"])
        if a.get("style"):
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", a["style"])


EXTERNAL = re.compile(r"^(https?:)?//", re.I)
# URLs inside mkdocs-material's JavaScript that it only loads on conditions this site never meets;
# each condition is asserted below, so the allowance cannot hide a real load.
CONDITIONAL_JS = {
    "https://unpkg.com/mermaid": "only for pages with Mermaid diagrams",
    "https://unpkg.com/resize-observer-polyfill": "only in browsers without ResizeObserver",
    "https://api.github.com/repos/": "only when repo_url is configured",
    "https://api.github.com/users/": "only when repo_url is configured",
    "https://clipboardjs.com/": "a comment in the bundle's licence header",
}


def test_site_makes_no_external_requests(built):
    site = built / "site"
    offenders = []
    for path in site.rglob("*"):
        if path.suffix == ".html":
            p = _Loads()
            p.feed(path.read_text(encoding="utf-8"))
            offenders += [(path, u) for u in p.urls if EXTERNAL.match(u)]
            assert "fonts.googleapis.com" not in path.read_text(encoding="utf-8")
            assert 'class="mermaid"' not in path.read_text(encoding="utf-8")
        elif path.suffix == ".css":
            css = path.read_text(encoding="utf-8", errors="replace")
            offenders += [(path, u) for u in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^'\")]+)", css)]
            offenders += [(path, u) for u in re.findall(r"@import\s+(?:url\()?['\"]?((?:https?:)?//[^'\");]+)", css)]
        elif path.suffix == ".js":
            js = path.read_text(encoding="utf-8", errors="replace")
            for u in re.findall(r"https?://[A-Za-z0-9.-]+(?:/[A-Za-z0-9._/-]*)?", js):
                if not any(u.startswith(k) for k in CONDITIONAL_JS) and not _is_comment_or_doc_url(js, u):
                    offenders.append((path, u))
    assert offenders == []
    config = (ROOT / "mkdocs.yml").read_text()
    assert "repo_url" not in config and "font: false" in config


def _is_comment_or_doc_url(js: str, url: str) -> bool:
    """True when every occurrence of url is in a comment or a licence banner, not in code that loads it."""
    for m in re.finditer(re.escape(url), js):
        line_start = js.rfind("\n", 0, m.start()) + 1
        line = js[line_start:m.start()]
        in_block_comment = js.rfind("/*", 0, m.start()) > js.rfind("*/", 0, m.start())
        if not (in_block_comment or "//" in line.split(url)[0].replace("://", "")):
            return False
    return True


def test_failed_build_leaves_previous_output_untouched(tmp_path):
    repo = copy_fixture(tmp_path / "repo")
    assert run_cps("--root", str(repo), "build").returncode == 0
    before = {p: p.read_bytes() for p in (repo / "dist").rglob("*") if p.is_file()}
    index = (repo / "site" / "draft" / "index.html").read_bytes()
    edit(repo / "spec/02-objects.md", "[[err:NoSuchKey]]", "[[err:NoSuchThing]]")
    r = run_cps("--root", str(repo), "build")
    assert r.returncode == 1 and "ERR001" in r.stdout and "left as they were" in r.stderr
    assert {p: p.read_bytes() for p in (repo / "dist").rglob("*") if p.is_file()} == before
    assert (repo / "site" / "draft" / "index.html").read_bytes() == index
    assert not list(repo.glob(".site.old-*")) and not list((repo / ".cache").glob("build-*"))


def test_broken_link_in_rendered_site_fails_the_build(tmp_path):
    repo = copy_fixture(tmp_path / "repo")
    # a raw relative link that the checks do not own (an asset): mkdocs strict mode catches it
    edit(repo / "spec/02-objects.md", "See [[schema:Error]]", "See ![diagram](../missing.png) and [[schema:Error]]")
    r = run_cps("--root", str(repo), "build")
    assert r.returncode == 1
    assert "missing.png" in r.stdout + r.stderr
    assert not (repo / "site").exists()
