# SPDX-License-Identifier: Apache-2.0
"""``cps build`` and ``cps preview``: the model -> site/ (mkdocs-material) and dist/ (artifacts).

Every frozen release (``releases/<version>/``) and the working draft are published side by side:
``site/<version>/``, ``site/draft/``, ``site/latest/`` (a copy of the newest final release, or of
the draft before the first release), ``site/versions.json`` (read by mkdocs-material's version
selector) and ``site/index.html`` (a redirect to ``latest/``); artifacts go to
``dist/<version>/`` with a SHA256SUMS per version and one over all of ``dist/``. A release is
built from its frozen sources only, so its pages, requirement permalinks and artifacts do not
move; only the status banner of its pages changes (Superseded) when a newer version appears.
Nothing depends on the clock: dates come from the specification itself.

Everything is written under a temporary directory first and moved into place only when the whole
build succeeded, so a failed build leaves the previous site/ and dist/ untouched.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cps.diagnostics import Diagnostic, Location, has_errors, rule
from cps.model import Spec
from cps import pdf, render, versions

MKDOCS_FAILED = rule("BLD001", "site-build", "mkdocs could not build the site without warnings.")

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed entry dates: byte-identical zips from the same sources


# ----------------------------------------------------------------------------- helpers
def write_if_changed(path: Path, content: str | bytes) -> bool:
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def deterministic_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            zf.writestr(info, entries[name])
    return buf.getvalue()


def dump_yaml_plain(data) -> str:
    from ruamel.yaml import YAML

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.sort_base_mapping_type_on_output = False
    y.width = 4096
    y.allow_unicode = True
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def rfc_page(name: str) -> str:
    return name


# ----------------------------------------------------------------------------- artifacts
def requirements_catalog(spec: Spec) -> dict:
    return {
        "specification": spec.title,
        "version": spec.version,
        "status": spec.status,
        "date": spec.date,
        "license": (spec.meta.get("license") or {}).get("spec", "CC-BY-4.0"),
        "base_url": site_base(spec),
        "requirements": [
            {**r.to_json(), "url": f"{site_base(spec)}{r.doc}/#{r.id}"} for r in spec.requirements
        ],
    }


def site_base(spec: Spec) -> str:
    base = str(spec.meta.get("site_url") or "https://example.invalid/").rstrip("/") + "/"
    return f"{base}{spec.version}/"


def licence_of(spec: Spec) -> str:
    return str((spec.meta.get("license") or {}).get("spec", "CC-BY-4.0"))


def single_page_parts(spec: Spec) -> tuple[str, str]:
    """(body HTML, table of contents HTML) of the whole RFC on one page."""
    import markdown

    link = render.single_page_linker(site_base(spec))
    parts = [render.document_markdown(spec, d, link, lambda n: "rfc:" + n, heading_shift=1) for d in spec.documents]
    md = markdown.Markdown(extensions=["tables", "attr_list", "fenced_code", "def_list", "toc"],
                           extension_configs={"toc": {"toc_depth": "2-3"}})
    body = md.convert("\n\n".join(parts))
    return body, md.toc


def single_page_html(spec: Spec, parts: tuple[str, str] | None = None) -> str:
    body, toc = parts or single_page_parts(spec)
    title = f"{spec.title} {spec.version}"
    lic = licence_of(spec)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="license" content="{lic}">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; line-height: 1.5; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }}
code, pre {{ font-family: ui-monospace, monospace; font-size: .9em; }}
pre {{ background: #f5f5f5; padding: .75rem; overflow-x: auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .25rem .5rem; vertical-align: top; }}
{render.CSS}
</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p>Status: {spec.status} · Date: {spec.date or "unreleased"} · Licence of this text: {lic}</p>
</header>
<nav><h2>Contents</h2>
{toc}
</nav>
<main>
{body}
</main>
</body>
</html>
"""


def schema_json(schema) -> str:
    return json.dumps(schema.data, indent=2, ensure_ascii=False) + "\n"


def dist_files(spec: Spec, out: Path) -> tuple[dict[str, bytes], str | None]:
    """Every artifact of one version except the PDF, and the print HTML the PDF is typeset from."""
    from cps.openapi import bundle

    out.mkdir(parents=True, exist_ok=True)
    doc = bundle(spec)
    info = doc.setdefault("info", {})
    info.setdefault("license", {"name": "Apache-2.0", "identifier": "Apache-2.0"})
    files: dict[str, bytes] = {}
    files["openapi.yaml"] = ("# SPDX-License-Identifier: Apache-2.0\n" + dump_yaml_plain(doc)).encode("utf-8")
    files["openapi.json"] = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    schema_entries = {f"cps-schemas-{spec.version}/{s.name}.json": schema_json(s).encode() for s in spec.schemas.values()}
    schema_entries[f"cps-schemas-{spec.version}/LICENSE"] = (
        "SPDX-License-Identifier: Apache-2.0\n"
        f"JSON Schemas of {spec.title} {spec.version}, licensed under the Apache License, Version 2.0.\n"
        "Full text: https://www.apache.org/licenses/LICENSE-2.0\n"
    ).encode()
    files["cps-schemas.zip"] = deterministic_zip(schema_entries)
    files["requirements.json"] = (json.dumps(requirements_catalog(spec), indent=2, ensure_ascii=False) + "\n").encode()
    parts = single_page_parts(spec)
    files["cps.html"] = single_page_html(spec, parts).encode("utf-8")
    for extra in EXTRA_ARTIFACTS:
        files.update(extra(spec, out))
    print_text = pdf.print_html(spec, *parts, permalink=site_base(spec)) if pdf.available() else None
    return files, print_text


def finish_dist(files: dict[str, bytes], out: Path) -> list[tuple[str, int, str]]:
    """Write the artifacts and their SHA256SUMS; return (name, size, sha256) for each."""
    out.mkdir(parents=True, exist_ok=True)
    listing = []
    for name in sorted(files):
        (out / name).write_bytes(files[name])
        listing.append((name, len(files[name]), hashlib.sha256(files[name]).hexdigest()))
    sums = "".join(f"{digest}  {name}\n" for name, _, digest in listing)
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return listing


def write_dist(spec: Spec, out: Path, cache: Path | None = None) -> list[tuple[str, int, str]]:
    """All artifacts of one version, the PDF included (typeset here, or taken from the cache)."""
    files, print_text = dist_files(spec, out)
    if print_text is not None:
        files["cps.pdf"] = pdf.pdf_for(print_text, pdf.spec_epoch(spec), cache)
    return finish_dist(files, out)


# Other modules (e.g. the PDF renderer) register functions (spec, out_dir) -> {name: bytes}.
EXTRA_ARTIFACTS: list = []


# ----------------------------------------------------------------------------- versions
@dataclass
class Edition:
    """One version of the specification published on the site: a frozen release or the draft."""

    name: str  # "1.0.0", "1.0.0-rc.1" or "draft": the directory under site/ and dist/
    spec: Spec
    status: str  # status today (a release becomes Superseded); the artifacts keep the stamped one
    previous: str | None  # the version before this one, for "Changes since the previous version"
    versions: list[str]  # every published version, newest first (draft first)
    latest: str  # the version latest/ points to
    base_url: str  # site root URL (without version)

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.name}/"


def editions(root: Path, draft: Spec) -> list[Edition]:
    """The draft and every frozen release, oldest release first, draft last."""
    released = versions.released(root)
    names = [*released, versions.DRAFT]
    newest_first = [versions.DRAFT, *reversed(released)]
    latest = versions.latest_final(released) or versions.DRAFT
    base = str(draft.meta.get("site_url") or "https://example.invalid/").rstrip("/") + "/"
    out = []
    for i, name in enumerate(names):
        spec = draft if name == versions.DRAFT else versions.load_release(root, name)
        status = versions.current_status(name, released)
        out.append(Edition(name, spec, status, names[i - 1] if i else None, newest_first, latest, base))
    return out


def page_depth(rel: str) -> int:
    """How many directories below the version root the page's URL is (use_directory_urls)."""
    parts = rel[:-3].split("/") if rel.endswith(".md") else rel.split("/")
    return len(parts) - (1 if parts[-1] == "index" else 0)


def status_banner(ed: Edition, rel: str) -> str:
    """An admonition (raw HTML, so links to other versions are not taken for pages) with status and date."""
    up = "../" * page_depth(rel)
    spec = ed.spec
    date = spec.date or "not released"
    kind = {"Draft": "warning", "Release Candidate": "info", "Pre-release": "info",
            "Released": "success", "Superseded": "danger"}.get(ed.status, "note")
    title = f"{spec.short_name} {ed.name} · {ed.status}" + (f" · {spec.date}" if spec.date else "")
    latest_link = f'<a href="{up}../{ed.latest}/">{html.escape(ed.latest)}</a>'
    released = [v for v in ed.versions if v != versions.DRAFT]
    if ed.status == "Draft":
        if ed.latest != versions.DRAFT:
            current = f"The current version is {latest_link}."
        elif released:
            current = (f'No final version has been released yet; the newest pre-release is '
                       f'<a href="{up}../{released[0]}/">{html.escape(released[0])}</a>.')
        else:
            current = "No version has been released yet."
        text = f"This is the working draft. It changes without notice; do not cite it or claim conformance to it. {current}"
    elif ed.status == "Superseded":
        # a final release is superseded by the newest final release, a pre-release by the newest release
        this = versions.parse(ed.name)
        by = released[0] if this is not None and this.is_prerelease else ed.latest
        by_link = f'<a href="{up}../{by}/">{html.escape(by)}</a>'
        text = (f"Version {html.escape(ed.name)} (released {html.escape(date)}) has been superseded by {by_link}. "
                "It stays published at this address for good.")
    elif ed.status in ("Release Candidate", "Pre-release"):
        text = (f"This is a pre-release ({html.escape(date)}) for review and testing; it may still change before the final "
                "version" + (f". The current version is {latest_link}." if ed.latest != versions.DRAFT else "."))
    else:
        text = f"This is the current version of the specification, released {html.escape(date)}. Its address is permanent."
    return (f'<div class="admonition {kind} cps-status" data-cps-status="{html.escape(ed.status)}">\n'
            f'<p class="admonition-title">{html.escape(title)}</p>\n<p>{text}</p>\n</div>\n')


def with_banner(markdown_text: str, banner: str) -> str:
    """Insert the banner after the page's first H1 (outside code fences), or at the top."""
    lines = markdown_text.split("\n")
    in_fence = False
    for i, line in enumerate(lines):
        if render.FENCE_RE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.startswith("# "):
            return "\n".join([*lines[: i + 1], "", banner, *lines[i + 1:]])
    return banner + "\n" + markdown_text


def citation(ed: Edition) -> tuple[str, str]:
    """(plain-text citation, BibTeX entry) of one version."""
    spec = ed.spec
    authors = spec.meta.get("authors") or f"{spec.title} contributors"
    year = (spec.date or "")[:4]
    when = spec.date or "working draft"
    plain = (f"{authors}. {spec.title} ({spec.short_name}), version {ed.name}. {spec.status}, {when}. "
             f"{ed.url}. Licensed under {licence_of(spec)}.")
    key = re.sub(r"[^A-Za-z0-9]+", "-", f"{spec.short_name}-{ed.name}").strip("-").lower()
    fields = [
        ("title", f"{{{spec.title} ({spec.short_name})}}"),
        ("author", f"{{{authors}}}"),
        ("version", ed.name),
        ("note", f"{spec.status}. Licensed under {licence_of(spec)}"),
        ("url", ed.url),
    ]
    if year:
        fields.insert(3, ("year", year))
        fields.insert(4, ("date", str(spec.date)))
    bib = f"@techreport{{{key},\n" + ",\n".join(f"  {k} = {{{v}}}" for k, v in fields) + "\n}"
    return plain, bib


def cite_markdown(ed: Edition) -> str:
    plain, bib = citation(ed)
    advice = ("Cite a released version, never the draft: its address and text do not change."
              if ed.name == versions.DRAFT else
              "This version's address and text never change; cite a requirement as version plus ID, "
              f"e.g. “{ed.spec.short_name} {ed.name}, CPS-OBJ-001”.")
    return (f"\n## How to cite {{#how-to-cite}}\n\n{advice}\n\n```text\n{plain}\n```\n\n"
            f"```bibtex\n{bib}\n```\n\nMachine-readable citation metadata: `CITATION.cff` in the repository.\n")


def changelog_section(ed: Edition) -> str:
    """The version's own CHANGELOG.md entry (the Unreleased one for the draft), headings demoted."""
    path = ed.spec.root / "CHANGELOG.md"
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8")
    label = "Unreleased" if ed.name == versions.DRAFT else ed.name
    m = re.search(rf"^## \[{re.escape(label)}\][^\n]*\n", text, re.M | re.I)
    if not m:
        return ""
    nxt = re.search(r"^## ", text[m.end():], re.M)
    body = text[m.end(): m.end() + nxt.start() if nxt else len(text)].strip("\n")
    return re.sub(r"^(#{3,5}) ", lambda h: "#" + h.group(1) + " ", body, flags=re.M)


def changes_markdown(ed: Edition, root: Path, editions_by_name: dict[str, Edition]) -> str:
    """The "Changes since the previous version" page: the differ's findings (when it is installed)
    and the version's changelog entry."""
    page = _changes_markdown(ed, root, editions_by_name)
    entry = changelog_section(ed)
    if entry.strip():
        page += "\n## Changelog entry {#changelog-entry}\n\n" + entry + "\n"
    return page


def _changes_markdown(ed: Edition, root: Path, editions_by_name: dict[str, Edition]) -> str:
    out = ["# Changes since the previous version", ""]
    if ed.previous is None:
        out.append(f"{html.escape(ed.name)} is the first published version; there is no previous version to compare with.")
        return "\n".join(out) + "\n"
    out.append(f"Changes from **{ed.previous}** to **{ed.name}**, computed by `cps diff {ed.previous} {ed.name}` "
               "from the two versions' sources.")
    out.append("")
    try:
        from cps import differ
    except ModuleNotFoundError as exc:
        if exc.name != "cps.differ":
            raise
        out.append("The differ is not installed in this build, so the changes were not computed; see the changelog.")
        return "\n".join(out) + "\n"
    changes = sorted(differ.diff_specs(editions_by_name[ed.previous].spec, ed.spec), key=lambda c: c.sort_key())
    bump = differ.required_bump(changes)
    if not changes:
        out.append("No changes to operations, parameters, bodies, error codes, profiles or requirements "
                   "(changes to informative text are not compared).")
        return "\n".join(out) + "\n"
    counts = {s: sum(1 for c in changes if c.severity == s) for s in differ.SEVERITIES}
    out.append(f"{len(changes)} change{'s' if len(changes) != 1 else ''}: "
               + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
               + f". They need a **{bump}** version bump.")
    out += ["", "| Severity | Breaks | Rule | Change |", "| --- | --- | --- | --- |"]
    for c in changes:
        out.append(f"| {c.severity} | {c.breaks} | `{c.rule}` | {render._cell(html.escape(c.message, quote=False))} |")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- site
def render_docs(spec: Spec, docs: Path, downloads: list[tuple[str, int, str]] | None = None,
                edition: Edition | None = None, root: Path | None = None,
                editions_by_name: dict[str, Edition] | None = None) -> set[Path]:
    """Write every generated page into ``docs``; return the set of files written.

    With an ``edition`` (``cps build``) every page gets the version's status banner, the home page
    a "How to cite" section, and a "Changes since the previous version" page is added.
    """
    pages: dict[str, str] = {}
    pages["index.md"] = render.index_markdown(spec, render.site_linker("index"))
    for d in spec.documents:
        pages[f"{d.name}.md"] = render.document_markdown(spec, d, render.site_linker(d.name), rfc_page)
    pages["operations.md"] = render.operations_markdown(spec, render.site_linker("operations"), rfc_page)
    pages["requirements.md"] = render.requirements_markdown(spec, render.site_linker("requirements"), rfc_page)
    pages["errors.md"] = render.errors_page_markdown(spec, render.site_linker("errors"), rfc_page)
    for name in spec.schemas:
        pages[f"schemas/{name}.md"] = render.schema_markdown(spec, name, render.site_linker(f"schemas/{name}"))
    changelog = spec.root / "CHANGELOG.md"
    pages["changelog.md"] = changelog.read_text(encoding="utf-8") if changelog.is_file() else "# Changelog\n"
    pages["downloads.md"] = render.downloads_markdown(downloads or [])
    for extra in EXTRA_PAGES:
        pages.update(extra(spec))
    if edition is not None:
        pages["index.md"] += cite_markdown(edition)
        pages["changes.md"] = changes_markdown(edition, root or spec.root, editions_by_name or {edition.name: edition})
        for rel in list(pages):
            if rel.endswith(".md"):
                pages[rel] = with_banner(pages[rel], status_banner(edition, rel))
    written = set()
    for rel, text in pages.items():
        write_if_changed(docs / rel, text)
        written.add(docs / rel)
    write_if_changed(docs / "assets" / "cps.css", render.CSS)
    written.add(docs / "assets" / "cps.css")
    return written


# Other modules register functions spec -> {relative page path: markdown}.
EXTRA_PAGES: list = []


def nav(spec: Spec, with_changes: bool = False) -> list:
    items: list = [{"Home": "index.md"}]
    items.append({"Specification": [{d.title: f"{d.name}.md"} for d in spec.documents]})
    reference = [
        {"Operations": "operations.md"},
        {"Requirements index": "requirements.md"},
        {"Error codes": "errors.md"},
        {"Schemas": [{n: f"schemas/{n}.md"} for n in spec.schemas]},
    ]
    items.append({"Reference": reference})
    for extra in EXTRA_NAV:
        items.extend(extra(spec))
    if with_changes:
        items.append({"Changes since the previous version": "changes.md"})
    items.append({"Changelog": "changelog.md"})
    items.append({"Downloads": "downloads.md"})
    return items


EXTRA_NAV: list = []


def mkdocs_config(spec: Spec, docs: Path, site: Path, cfg_path: Path, extra: dict | None = None,
                  config_root: Path | None = None, with_changes: bool = False) -> Path:
    cfg = {
        "INHERIT": str((config_root or spec.root) / "mkdocs.yml"),
        "docs_dir": str(docs),
        "site_dir": str(site),
        "nav": nav(spec, with_changes),
        "validation": {"nav": {"omitted_files": "warn", "not_found": "warn"},
                       "links": {"not_found": "warn", "anchors": "warn", "unrecognized_links": "warn"}},
    }
    if extra:
        cfg.update(extra)
    cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")  # JSON is YAML
    return cfg_path


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def run_mkdocs(cfg_path: Path) -> list[str]:
    """Build with mkdocs in strict mode; return warnings (empty on success)."""
    from mkdocs.commands.build import build as mk_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, MkDocsException

    handler = _Collect()
    log = logging.getLogger("mkdocs")
    log.addHandler(handler)
    old_level = log.level
    log.setLevel(logging.WARNING)
    old_propagate = log.propagate
    log.propagate = False
    try:
        cfg = load_config(config_file=str(cfg_path), strict=True)
        mk_build(cfg)
    except (Abort, MkDocsException) as exc:
        msgs = [r.getMessage() for r in handler.records]
        return msgs or [str(exc)]
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        log.propagate = old_propagate
    return [r.getMessage() for r in handler.records]


def _swap_into_place(tmp: Path, root: Path, names: list[str]) -> None:
    for name in names:
        target = root / name
        old = root / f".{name}.old-{os.getpid()}"
        if target.exists():
            target.rename(old)
        (tmp / name).rename(target)
        if old.exists():
            shutil.rmtree(old)


def versions_json(eds: list[Edition]) -> str:
    """The version list mkdocs-material's selector reads (the format of mike's versions.json)."""
    items = []
    for name in eds[0].versions:
        ed = next(e for e in eds if e.name == name)
        title = "draft (Draft)" if name == versions.DRAFT else f"{name} ({ed.status})"
        items.append({"version": name, "title": title, "aliases": ["latest"] if name == ed.latest else []})
    return json.dumps(items, indent=2) + "\n"


def redirect_html(target: str, canonical: str) -> str:
    t = html.escape(target)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Redirecting to {t}</title>
<meta http-equiv="refresh" content="0; url={t}">
<link rel="canonical" href="{html.escape(canonical)}">
<script>location.replace("{t}" + location.search + location.hash);</script>
</head>
<body><p>This page has moved to <a href="{t}">{t}</a>.</p></body>
</html>
"""


def site_cache_key(docs: Path, cfg_path: Path, root: Path) -> str:
    """Everything a version's mkdocs output depends on: the generated pages, the configuration,
    mkdocs.yml, the versions of mkdocs and the theme, and the code of this module."""
    import mkdocs
    from importlib.metadata import version as dist_version

    h = hashlib.sha256()
    for path in sorted(p for p in docs.rglob("*") if p.is_file()):
        h.update(path.relative_to(docs).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    stable = {k: v for k, v in cfg.items() if k not in ("docs_dir", "site_dir")}
    h.update(json.dumps(stable, sort_keys=True).encode())
    h.update((root / "mkdocs.yml").read_bytes())
    h.update(f"{mkdocs.__version__}\0{dist_version('mkdocs-material')}".encode())
    for mod in (render, sys.modules[__name__]):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()


def store_site(built: Path, target: Path) -> None:
    """Keep a copy of a frozen release's built site (written atomically: copy, then rename)."""
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        shutil.copytree(built, tmp)
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def not_found_html(base_url: str) -> str:
    """The site-wide 404 page (GitHub Pages serves /404.html for any missing address)."""
    latest = html.escape(f"{base_url}latest/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Page not found</title>
</head>
<body>
<h1>Page not found</h1>
<p>This address does not exist. Every released version stays at its own address
(<code>{html.escape(base_url)}&lt;version&gt;/</code>); the current version is at <a href="{latest}">{latest}</a>.</p>
</body>
</html>
"""


def dist_sums(dist: Path) -> str:
    """SHA256SUMS over every artifact of every version (``<version>/<file>``)."""
    files = sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file())
    return "".join(f"{sha256_file(dist / rel)}  {rel}\n" for rel in files if rel != "SHA256SUMS")


PDF_SIZE_TOKEN = "cpspdfsizepending"
PDF_SHA_TOKEN = "cpspdfsha256pending"


class PdfJobs:
    """PDFs typeset in worker processes while the rest of the build goes on (cache hits need none).

    ``CPS_PDF_WORKERS=N`` sets the number of worker processes (default: CPUs, at most 4);
    ``CPS_PDF_WORKERS=0`` typesets in the build process itself.
    """

    def __init__(self):
        self.pool = None
        self.futures: dict[str, object] = {}
        self.done: dict[str, bytes] = {}
        self.meta: dict[str, tuple[str, int, Path]] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def add(self, name: str, print_text: str, epoch: int, cache: Path) -> None:
        hit = pdf.cached(print_text, epoch, cache)
        if hit is not None:
            self.done[name] = hit
            return
        workers = int(os.environ.get("CPS_PDF_WORKERS", "0") or 0) or min(4, os.cpu_count() or 1)
        if os.environ.get("CPS_PDF_WORKERS") == "0":  # typeset in this process (no worker processes)
            data = pdf.render_pdf(print_text, epoch)
            pdf.store(print_text, epoch, cache, data)
            self.done[name] = data
            return
        if self.pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            self.pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx)
        self.meta[name] = (print_text, epoch, cache)
        self.futures[name] = self.pool.submit(pdf.render_pdf, print_text, epoch)

    def pending(self, name: str) -> bool:
        return name in self.futures

    def result(self, name: str) -> bytes | None:
        if name in self.futures:
            data = self.futures.pop(name).result()
            print_text, epoch, cache = self.meta.pop(name)
            pdf.store(print_text, epoch, cache, data)
            self.done[name] = data
        return self.done.get(name)


def finish_downloads(site_version: Path, dist_version: Path, listing: list[tuple[str, int, str]]) -> None:
    """Put the final artifacts into the built downloads/ and fill in the PDF's size and digest."""
    downloads = site_version / "downloads"
    for name in [*(n for n, _, _ in listing), "SHA256SUMS"]:
        shutil.copyfile(dist_version / name, downloads / name)
    pdf_row = next(((size, digest) for n, size, digest in listing if n == "cps.pdf"), None)
    if pdf_row is None:
        return
    for page in (downloads / "index.html", site_version / "search" / "search_index.json"):
        if page.is_file():
            text = page.read_text(encoding="utf-8")
            if PDF_SHA_TOKEN in text:
                text = text.replace(PDF_SIZE_TOKEN, f"{pdf_row[0]:,}").replace(PDF_SHA_TOKEN, pdf_row[1])
                page.write_text(text, encoding="utf-8")


def build(root: Path, fmt: str = "human", site: bool = True, dist: bool = True, out=sys.stdout,
          checks: bool = True) -> int:
    """Check, then write dist/<version>/ and site/<version>/ for every frozen release and the draft.

    ``checks=False`` is for benchmarks of the rendering alone; ``cps build`` always checks.
    """
    from cps.cli import all_checks, print_diagnostics
    from cps.loader import load

    root = root.resolve()
    spec = load(root)
    diags = all_checks(spec) if checks else []
    if has_errors(diags):
        print_diagnostics(diags, fmt, root)
        print("cps build: checks failed; site/ and dist/ were left as they were.", file=sys.stderr)
        return 1
    cache = root / ".cache"
    cache.mkdir(exist_ok=True)
    eds = editions(root, spec)
    by_name = {e.name: e for e in eds}
    with tempfile.TemporaryDirectory(prefix="build-", dir=cache) as tmpname, PdfJobs() as jobs:
        tmp = Path(tmpname)
        files: dict[str, dict[str, bytes]] = {}
        for ed in eds:
            files[ed.name], print_text = dist_files(ed.spec, tmp / "dist" / ed.name)
            if print_text is not None:
                jobs.add(ed.name, print_text, pdf.spec_epoch(ed.spec), cache / "pdf")
        names = ["dist"] if dist else []
        if site:
            # The PDFs are typeset in worker processes meanwhile; their size and digest are
            # filled into the downloads page when they are ready.
            for ed in eds:
                docs = tmp / "docs" / ed.name
                listing = [(n, len(b), hashlib.sha256(b).hexdigest()) for n, b in sorted(files[ed.name].items())]
                if jobs.pending(ed.name):
                    listing = sorted([*listing, ("cps.pdf", PDF_SIZE_TOKEN, PDF_SHA_TOKEN)])
                render_docs(ed.spec, docs, listing, edition=ed, root=root, editions_by_name=by_name)
                downloads = docs / "downloads"
                downloads.mkdir(parents=True, exist_ok=True)
                for name, data in files[ed.name].items():
                    (downloads / name).write_bytes(data)
                for s in ed.spec.schemas.values():  # each schema's $id resolves: <version>/schemas/<Name>.json
                    (docs / "schemas" / f"{s.name}.json").write_text(schema_json(s), encoding="utf-8")
                (downloads / "SHA256SUMS").write_bytes(b"")
                if jobs.pending(ed.name):
                    (downloads / "cps.pdf").write_bytes(b"")
                extra = {"site_url": ed.url, "extra": {"version": {"provider": "mike", "default": "latest"}}}
                cfg = mkdocs_config(ed.spec, docs, tmp / "site" / ed.name, tmp / f"mkdocs-{ed.name}.json",
                                    extra=extra, config_root=root, with_changes=True)
                site_key = site_cache_key(docs, cfg, root) if ed.name != versions.DRAFT else None
                hit = cache / "site" / site_key if site_key else None
                if hit is not None and hit.is_dir():
                    shutil.copytree(hit, tmp / "site" / ed.name)  # a frozen release whose pages are unchanged
                    continue
                warnings = run_mkdocs(cfg)
                if not warnings and hit is not None:
                    store_site(tmp / "site" / ed.name, hit)
                if warnings:
                    mk = [MKDOCS_FAILED.at(Location("mkdocs.yml", 1, 1), f"{ed.name}: {w}") for w in warnings]
                    print_diagnostics(mk, fmt, root)
                    print("cps build: the site did not build cleanly; site/ and dist/ were left as they were.",
                          file=sys.stderr)
                    return 1
        listings = {}
        for ed in eds:
            try:
                data = jobs.result(ed.name)
            except Exception as exc:  # WeasyPrint or its system libraries failed in the worker
                print(f"cps build: the PDF of {ed.name} could not be typeset ({type(exc).__name__}: {exc}); "
                      "site/ and dist/ were left as they were.", file=sys.stderr)
                return 1
            if data is not None:
                files[ed.name]["cps.pdf"] = data
            listings[ed.name] = finish_dist(files[ed.name], tmp / "dist" / ed.name)
        (tmp / "dist" / "SHA256SUMS").write_text(dist_sums(tmp / "dist"), encoding="utf-8")
        if site:
            site_dir = tmp / "site"
            for ed in eds:
                finish_downloads(site_dir / ed.name, tmp / "dist" / ed.name, listings[ed.name])
            latest = eds[0].latest
            shutil.copytree(site_dir / latest, site_dir / "latest")
            (site_dir / "versions.json").write_text(versions_json(eds), encoding="utf-8")
            (site_dir / "index.html").write_text(redirect_html("latest/", f"{eds[0].base_url}latest/"), encoding="utf-8")
            (site_dir / "404.html").write_text(not_found_html(eds[0].base_url), encoding="utf-8")
            names.append("site")
        _swap_into_place(tmp, root, names)
    if diags:  # warnings only
        print_diagnostics(diags, fmt, root)
    if pdf.skipped():
        print("cps build: note: CPS_NO_PDF is set, so dist/ has no PDF.", file=sys.stderr)
    elif not pdf.available():
        print("cps build: note: WeasyPrint is not installed (pip install -e '.[pdf]'), so dist/ has no PDF.",
              file=sys.stderr)
    n = len(spec.requirements)
    released = [e.name for e in eds if e.name != versions.DRAFT]
    print(
        f"Built {spec.short_name} {spec.version}: {len(spec.documents)} RFC sections, {n} requirements, "
        f"{len(spec.operations)} operations, {len(spec.schemas)} schemas"
        + (f"; released versions {', '.join(released)} (latest: {eds[0].latest})" if released else "")
        + " -> " + " and ".join(f"{x}/" for x in sorted(names)),
        file=out,
    )
    return 0


# ----------------------------------------------------------------------------- preview
def preview(root: Path, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve the site with live reload; pages are regenerated from spec/ and schemas/ on change."""
    from mkdocs.commands.serve import serve

    from cps.loader import load

    work = root / ".cache" / "preview"
    docs = work / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    spec = load(root)
    render_docs(spec, docs)
    os.environ["CPS_PREVIEW_ROOT"] = str(root)
    os.environ["CPS_PREVIEW_DOCS"] = str(docs)
    hook = Path(__file__).with_name("preview_hook.py")
    cfg = mkdocs_config(
        spec,
        docs,
        work / "site",
        work / "mkdocs.json",
        extra={"hooks": [str(hook)], "watch": [str(root / "spec"), str(root / "schemas"), str(root / "CHANGELOG.md")],
               "dev_addr": f"{host}:{port}", "site_url": f"http://{host}:{port}/"},
    )
    print(f"Serving the CPS site on http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr)
    try:
        serve(config_file=str(cfg), livereload=True)
    except KeyboardInterrupt:
        pass
    return 0


def _register_generated_pages() -> None:
    """Pages built from data beside the spec: measured results, test coverage, diff rules."""
    from cps import sitepages

    EXTRA_PAGES.append(sitepages.pages)
    EXTRA_NAV.append(sitepages.nav)


_register_generated_pages()
