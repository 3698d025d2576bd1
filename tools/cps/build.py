"""``cps build`` and ``cps preview``: the model -> site/ (mkdocs-material) and dist/ (artifacts).

Everything is written under a temporary directory first and moved into place only when the whole
build succeeded, so a failed build leaves the previous site/ and dist/ untouched.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from cps.diagnostics import Diagnostic, Location, has_errors, rule
from cps.model import Spec
from cps import render

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


def single_page_html(spec: Spec) -> str:
    import markdown

    link = render.single_page_linker(site_base(spec))
    parts = [render.document_markdown(spec, d, link, lambda n: "rfc:" + n, heading_shift=1) for d in spec.documents]
    md = markdown.Markdown(extensions=["tables", "attr_list", "fenced_code", "def_list", "toc"],
                           extension_configs={"toc": {"toc_depth": "2-3"}})
    body = md.convert("\n\n".join(parts))
    toc = md.toc
    title = f"{spec.title} {spec.version}"
    lic = (spec.meta.get("license") or {}).get("spec", "CC-BY-4.0")
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


def write_dist(spec: Spec, out: Path) -> list[tuple[str, int, str]]:
    from cps.openapi import bundle

    out.mkdir(parents=True, exist_ok=True)
    doc = bundle(spec)
    files: dict[str, bytes] = {}
    files["openapi.yaml"] = ("# SPDX-License-Identifier: Apache-2.0\n" + dump_yaml_plain(doc)).encode("utf-8")
    files["openapi.json"] = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    schema_entries = {
        f"cps-schemas-{spec.version}/{s.name}.json": (json.dumps(s.data, indent=2, ensure_ascii=False) + "\n").encode()
        for s in spec.schemas.values()
    }
    schema_entries[f"cps-schemas-{spec.version}/LICENSE"] = (
        "SPDX-License-Identifier: Apache-2.0\n"
        f"JSON Schemas of {spec.title} {spec.version}, licensed under the Apache License, Version 2.0.\n"
    ).encode()
    files["cps-schemas.zip"] = deterministic_zip(schema_entries)
    files["requirements.json"] = (json.dumps(requirements_catalog(spec), indent=2, ensure_ascii=False) + "\n").encode()
    files["cps.html"] = single_page_html(spec).encode("utf-8")
    for extra in EXTRA_ARTIFACTS:
        files.update(extra(spec, out))
    listing = []
    for name in sorted(files):
        (out / name).write_bytes(files[name])
        listing.append((name, len(files[name]), hashlib.sha256(files[name]).hexdigest()))
    sums = "".join(f"{digest}  {name}\n" for name, _, digest in listing)
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return listing


# Other modules (e.g. the PDF renderer) register functions (spec, out_dir) -> {name: bytes}.
EXTRA_ARTIFACTS: list = []


# ----------------------------------------------------------------------------- site
def render_docs(spec: Spec, docs: Path, downloads: list[tuple[str, int, str]] | None = None) -> set[Path]:
    """Write every generated page into ``docs``; return the set of files written."""
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
    written = set()
    for rel, text in pages.items():
        write_if_changed(docs / rel, text)
        written.add(docs / rel)
    write_if_changed(docs / "assets" / "cps.css", render.CSS)
    written.add(docs / "assets" / "cps.css")
    return written


# Other modules register functions spec -> {relative page path: markdown}.
EXTRA_PAGES: list = []


def nav(spec: Spec) -> list:
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
    items.append({"Changelog": "changelog.md"})
    items.append({"Downloads": "downloads.md"})
    return items


EXTRA_NAV: list = []


def mkdocs_config(spec: Spec, docs: Path, site: Path, cfg_path: Path, extra: dict | None = None) -> Path:
    cfg = {
        "INHERIT": str(spec.root / "mkdocs.yml"),
        "docs_dir": str(docs),
        "site_dir": str(site),
        "nav": nav(spec),
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


def build(root: Path, fmt: str = "human", site: bool = True, dist: bool = True, out=sys.stdout) -> int:
    from cps.cli import all_checks, print_diagnostics
    from cps.loader import load

    spec = load(root)
    diags = all_checks(spec)
    if has_errors(diags):
        print_diagnostics(diags, fmt, root)
        print("cps build: checks failed; site/ and dist/ were left as they were.", file=sys.stderr)
        return 1
    cache = root / ".cache"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=cache) as tmpname:
        tmp = Path(tmpname)
        listing = write_dist(spec, tmp / "dist")
        names = ["dist"] if dist else []
        if site:
            docs = tmp / "docs"
            render_docs(spec, docs, listing)
            downloads = docs / "downloads"
            downloads.mkdir(parents=True, exist_ok=True)
            for name in [*(n for n, _, _ in listing), "SHA256SUMS"]:
                shutil.copyfile(tmp / "dist" / name, downloads / name)
            warnings = run_mkdocs(mkdocs_config(spec, docs, tmp / "site", tmp / "mkdocs.json"))
            if warnings:
                mk = [MKDOCS_FAILED.at(Location("mkdocs.yml", 1, 1), w) for w in warnings]
                print_diagnostics(mk, fmt, root)
                print("cps build: the site did not build cleanly; site/ and dist/ were left as they were.", file=sys.stderr)
                return 1
            names.append("site")
        _swap_into_place(tmp, root, names)
    if diags:  # warnings only
        print_diagnostics(diags, fmt, root)
    n = len(spec.requirements)
    print(
        f"Built {spec.short_name} {spec.version}: {len(spec.documents)} RFC sections, {n} requirements, "
        f"{len(spec.operations)} operations, {len(spec.schemas)} schemas -> "
        + " and ".join(f"{x}/" for x in sorted(names)),
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
