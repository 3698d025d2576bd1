# SPDX-License-Identifier: Apache-2.0
"""The PDF of the RFC: the single-page HTML typeset for print with WeasyPrint.

Title page (title, version, status, date, licence, permanent address), table of contents with
page numbers, running heads, requirement IDs set in bold monospace. The PDF is reproducible: its
CreationDate/ModDate come from the specification's own date (none for the draft), its file
identifier is derived from the content, and the embedded font subsets are time-stamped with the
same date (fontTools honours SOURCE_DATE_EPOCH), so the clock never shows in the output.

Rendering takes seconds for the full RFC, so the bytes are cached under ``.cache/pdf/``, keyed on
the SHA-256 of the print HTML, the WeasyPrint and Pango versions and the font files: a frozen
release is typeset once per machine (and per CI cache).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import html as _html
import os
import re
import threading
from pathlib import Path

from cps.model import Spec

PDF_FORMAT = "4"  # bump when the print HTML/CSS changes in a way the cache key would not see
EPOCH_WITHOUT_DATE = 315532800  # 1980-01-01T00:00:00Z, the same fixed date as the zip entries
_ENV_LOCK = threading.Lock()

SPDX_URLS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
}

PRINT_CSS = """
@page {
  size: A4;
  margin: 24mm 20mm 22mm 20mm;
  @top-left { font: 8pt "DejaVu Sans", sans-serif; color: #555; }
  @top-right { content: string(cps-section); font: 8pt "DejaVu Sans", sans-serif; color: #555; }
  @bottom-left { font: 7.5pt "DejaVu Sans", sans-serif; color: #777; }
  @bottom-right { content: counter(page) " / " counter(pages); font: 8pt "DejaVu Sans", sans-serif; color: #555; }
}
@page :first { @top-left { content: none; } @top-right { content: none; } @bottom-left { content: none; } @bottom-right { content: none; } }
html { font: 10pt/1.42 "DejaVu Serif", serif; color: #111; }
body { margin: 0; }
.title-page { page: title; break-after: page; padding-top: 55mm; }
.title-page .kicker { font: 11pt "DejaVu Sans", sans-serif; letter-spacing: .08em; text-transform: uppercase; color: #3949ab; }
.title-page h1 { font: bold 26pt/1.15 "DejaVu Sans", sans-serif; margin: 4mm 0 10mm; }
.title-page table.meta { font: 11pt/1.5 "DejaVu Sans", sans-serif; width: auto; border: none; }
.title-page table.meta th, .title-page table.meta td { border: none; padding: .6mm 6mm .6mm 0; font-size: 11pt; text-align: left; }
.title-page table.meta th { color: #555; font-weight: normal; width: 30mm; }
.title-page .licence { margin-top: 40mm; font-size: 9pt; color: #333; border-top: .5pt solid #999; padding-top: 4mm; }
nav.toc { break-after: page; }
nav.toc h2 { font: bold 16pt "DejaVu Sans", sans-serif; }
nav.toc ul { list-style: none; padding-left: 0; margin: 0; }
nav.toc ul ul { padding-left: 6mm; }
nav.toc li { margin: .6mm 0; }
nav.toc > div > ul > li > a { font-weight: bold; }
nav.toc a { color: #111; text-decoration: none; }
nav.toc a::after { content: leader('.') target-counter(attr(href), page); }
h1, h2, h3, h4, h5, h6 { font-family: "DejaVu Sans", sans-serif; line-height: 1.25; break-after: avoid; }
main h2 { font-size: 17pt; break-before: page; string-set: cps-section content(); border-bottom: 1pt solid #3949ab; padding-bottom: 1.5mm; }
main h3 { font-size: 13pt; margin-top: 7mm; }
main h4 { font-size: 11pt; }
main h5, main h6 { font-size: 10pt; }
main h4, main h5, main h6 { bookmark-level: none; }
a { color: #1a237e; text-decoration: none; }
p, li { orphans: 2; widows: 2; hyphens: auto; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 8.3pt; }
pre { background: #f4f4f4; border-left: 2pt solid #c5cae9; padding: 2mm 3mm; white-space: pre-wrap; overflow-wrap: anywhere; }
table { table-layout: fixed; border-collapse: collapse; width: 100%; font-size: 8.5pt; margin: 2mm 0; }
th, td { border: .5pt solid #999; padding: 1mm 1.5mm; vertical-align: top; overflow-wrap: anywhere; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.cps-req { font-family: "DejaVu Sans Mono", monospace; font-weight: bold; font-size: 8.5pt; color: #1a237e;
  background: #e8eaf6; padding: 0 1mm; border-radius: 1mm; margin-right: 1mm; }
.cps-tag { font: 6.5pt "DejaVu Sans", sans-serif; text-transform: uppercase; border: .4pt solid #555; border-radius: .8mm;
  padding: 0 .8mm; margin-right: 1mm; color: #444; }
.headerlink { display: none; }
"""


def spec_epoch(spec: Spec) -> int:
    if spec.date:
        try:
            d = _dt.date.fromisoformat(str(spec.date)[:10])
            return int(_dt.datetime(d.year, d.month, d.day, tzinfo=_dt.timezone.utc).timestamp())
        except ValueError:
            pass
    return EPOCH_WITHOUT_DATE


_TABLE_RE = re.compile(r"<table>(.*?)</table>", re.S)
_ROW_RE = re.compile(r"<tr>(.*?)</tr>", re.S)
_CELL_RE = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
_TAG_RE = re.compile(r"<[^>]+>")


def fixed_tables(body: str) -> str:
    """Give every table column widths from its content, so that WeasyPrint can use the (much faster)
    fixed table layout instead of measuring every cell's content twice."""

    def colgroup(m: re.Match) -> str:
        rows = [[_html.unescape(_TAG_RE.sub("", c)).strip() for c in _CELL_RE.findall(r)] for r in _ROW_RE.findall(m.group(1))]
        ncols = max((len(r) for r in rows), default=0)
        if ncols == 0:
            return m.group(0)
        weights = []
        for i in range(ncols):
            cells = [r[i] for r in rows if i < len(r)]
            longest = max((len(c) for c in cells), default=1)
            words = max((len(w) for c in cells for w in c.split()), default=1)
            weights.append(max(min(longest, 60), min(words * 1.3, 45), 5))
        total = sum(weights)
        cols = "".join(f'<col style="width: {w * 100 / total:.1f}%">' for w in weights)
        return f"<table><colgroup>{cols}</colgroup>{m.group(1)}</table>"

    return _TABLE_RE.sub(colgroup, body)


def _css_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def print_html(spec: Spec, body: str, toc: str, permalink: str) -> str:
    from cps.build import licence_of

    lic = licence_of(spec)
    lic_url = SPDX_URLS.get(lic, "")
    esc = _html.escape
    title = f"{spec.title} ({spec.short_name})"
    running = f"{spec.short_name} {spec.version}" + ("" if spec.version == "draft" else f" · {spec.status}")
    date = spec.date or "unreleased working draft"
    dates = ""
    if spec.date:
        stamp = f"{str(spec.date)[:10]}T00:00:00Z"
        dates = f'<meta name="dcterms.created" content="{stamp}">\n<meta name="dcterms.modified" content="{stamp}">\n'
    licence_sentence = (
        f"This text is licensed under {lic}" + (f" ({lic_url})" if lic_url else "") + ". "
        "The OpenAPI document, the JSON Schemas and the cps toolkit are licensed under Apache-2.0."
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(spec.title)} {esc(spec.version)}</title>
<meta name="author" content="{esc(spec.title)} contributors">
<meta name="description" content="{esc(title)}, version {esc(spec.version)}, {esc(spec.status)}, {esc(date)}. SPDX-License-Identifier: {esc(lic)}">
<meta name="keywords" content="{esc(spec.short_name)}, S3, object storage, specification, {esc(lic)}">
<meta name="generator" content="cps toolkit">
{dates}<style>{PRINT_CSS}
@page {{ @top-left {{ content: "{_css_string(running)}"; }} @bottom-left {{ content: "{_css_string(spec.short_name + ' ' + spec.version + ' · SPDX-License-Identifier: ' + lic)}"; }} }}
@page :first {{ @top-left {{ content: none; }} @bottom-left {{ content: none; }} }}
</style>
</head>
<body>
<section class="title-page">
<p class="kicker">Specification</p>
<h1>{esc(title)}</h1>
<table class="meta">
<tr><th>Version</th><td>{esc(spec.version)}</td></tr>
<tr><th>Status</th><td>{esc(spec.status)}</td></tr>
<tr><th>Date</th><td>{esc(date)}</td></tr>
<tr><th>Address</th><td><a href="{esc(permalink)}">{esc(permalink)}</a></td></tr>
<tr><th>Licence</th><td>{esc(lic)}</td></tr>
</table>
<p class="licence">© {esc(spec.title)} contributors. SPDX-License-Identifier: {esc(lic)}. {esc(licence_sentence)}
Requirement identifiers (<code>CPS-AREA-NNN</code>) are permanent; cite a requirement as
version and identifier, e.g. “{esc(spec.short_name)} {esc(spec.version)}, CPS-OBJ-001”.</p>
</section>
<nav class="toc"><h2>Contents</h2>
{toc}
</nav>
<main>
{fixed_tables(body)}
</main>
</body>
</html>
"""


def render_pdf(html_text: str, epoch: int) -> bytes:
    import weasyprint

    identifier = hashlib.sha256(html_text.encode("utf-8")).hexdigest()[:32].encode("ascii")
    with _ENV_LOCK:
        old = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
        try:
            return weasyprint.HTML(string=html_text, base_url=None).write_pdf(
                pdf_identifier=identifier, uncompressed_pdf=False
            )
        finally:
            if old is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = old


def skipped() -> bool:
    """``CPS_NO_PDF=1`` leaves the PDF out (a faster edit-build loop; releases and CI never set it)."""
    return os.environ.get("CPS_NO_PDF", "") not in ("", "0")


def available() -> bool:
    if skipped():
        return False
    try:
        import weasyprint  # noqa: F401
    except Exception:  # ImportError, or OSError when the Pango libraries are missing
        return False
    return True


@functools.lru_cache(maxsize=None)
def environment_key() -> str:
    """What the typeset bytes depend on besides the HTML: WeasyPrint, Pango and the font files."""
    import shutil
    import subprocess

    import weasyprint

    parts = [weasyprint.__version__]
    try:
        from weasyprint.text.ffi import pango

        parts.append(str(pango.pango_version()))
    except Exception:  # pragma: no cover - depends on the system libraries
        parts.append("pango?")
    fc_match = shutil.which("fc-match")
    for family in ("DejaVu Serif", "DejaVu Serif:bold", "DejaVu Sans", "DejaVu Sans:bold", "DejaVu Sans Mono",
                   "DejaVu Sans Mono:bold"):
        if fc_match is None:
            parts.append(family)
            continue
        found = subprocess.run([fc_match, "-f", "%{file}", family], capture_output=True, text=True).stdout.strip()
        try:
            parts.append(hashlib.sha256(Path(found).read_bytes()).hexdigest() if found else family)
        except OSError:
            parts.append(found)
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def cache_path(print_text: str, epoch: int, cache: Path | None) -> Path | None:
    if cache is None:
        return None
    key = hashlib.sha256(f"{PDF_FORMAT}\0{environment_key()}\0{epoch}\0{print_text}".encode("utf-8")).hexdigest()
    return cache / f"{key}.pdf"


def cached(print_text: str, epoch: int, cache: Path | None) -> bytes | None:
    path = cache_path(print_text, epoch, cache)
    return path.read_bytes() if path is not None and path.is_file() else None


def store(print_text: str, epoch: int, cache: Path | None, data: bytes) -> None:
    path = cache_path(print_text, epoch, cache)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(path)


def pdf_for(print_text: str, epoch: int, cache: Path | None = None) -> bytes:
    data = cached(print_text, epoch, cache)
    if data is None:
        data = render_pdf(print_text, epoch)
        store(print_text, epoch, cache, data)
    return data


def pdf_bytes(spec: Spec, body: str, toc: str, permalink: str, cache: Path | None = None) -> bytes:
    return pdf_for(print_html(spec, body, toc, permalink), spec_epoch(spec), cache)
