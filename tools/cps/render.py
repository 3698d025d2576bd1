# SPDX-License-Identifier: Apache-2.0
"""Renderers: the model -> Markdown pages for the site and the single-page RFC.

Every page is generated from the one :class:`cps.model.Spec`; nothing is copied by hand.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Callable

from cps.markdown import HEADING_ANCHOR_RE, XREF_RE, slugify, split_front_matter
from cps.model import Document, Spec
from cps.xmlmap import json_to_xml

# link(page, anchor) -> URL, where page is a page name ("07-objects", "operations",
# "schemas/Error", "requirements", "errors", "index") and anchor may be "".
Linker = Callable[[str, str], str]

FENCE_RE = re.compile(r"^\s*(```|~~~)")
MARKER_LINE_RE = re.compile(r"^(?P<lead>\s*(?:[-*+]\s+|\d+[.)]\s+)?)\[(?P<id>CPS-[^\]\s]+)\](?:\{(?P<attrs>[^}]*)\})?")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
CODE_SPLIT_RE = re.compile(r"(`+[^`]*?`+)")


def site_linker(current: str) -> Linker:
    """Links between the generated Markdown pages (mkdocs resolves and validates them)."""
    up = "../" * current.count("/")

    def link(page: str, anchor: str) -> str:
        frag = f"#{anchor}" if anchor else ""
        if page == current:
            return frag or f"{up}{page}.md"
        return f"{up}{page}.md{frag}"

    return link


def single_page_linker(site_url: str) -> Linker:
    """Links inside the one-page RFC: RFC anchors stay in the page, the rest go to the site."""

    def link(page: str, anchor: str) -> str:
        if page.startswith("rfc:"):
            return f"#{anchor}" if anchor else "#"
        target = "" if page == "index" else f"{page}/"
        return f"{site_url}{target}" + (f"#{anchor}" if anchor else "")

    return link


def _xref(spec: Spec, kind: str, target: str, text: str | None, link: Linker, rfc_page: Callable[[str], str]) -> str:
    if kind == "req":
        r = spec.requirement(target)
        url = link(rfc_page(r.doc), target) if r else "#"
        return f"[{text or target}]({url})"
    if kind == "op":
        found = spec.operation_section(target)
        url = link(rfc_page(found[0].name), f"op-{target}") if found else link("operations", target)
        return f"[{text or '`' + target + '`'}]({url})"
    if kind == "err":
        return f"[{text or '`' + target + '`'}]({link('errors', 'err-' + target)})"
    if kind == "schema":
        return f"[{text or '`' + target + '`'}]({link('schemas/' + target, '')})"
    if kind == "profile":
        p = spec.profiles.get(target)
        return f"[{text or (p.name if p else target)}]({link('index', 'profile-' + target)})"
    if kind == "sec":
        page, _, anchor = target.rpartition("#")
        doc = spec.document(page) if page else None
        title = text
        if not title and doc:
            for h in doc.headings:
                if h.anchor == anchor:
                    title = h.title
        return f"[{title or target}]({link(rfc_page(page), anchor) if page else '#' + anchor})"
    return text or target


def _subst_outside_code(line: str, fn: Callable[[str], str]) -> str:
    parts = CODE_SPLIT_RE.split(line)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def requirement_badge(spec: Spec, rid: str) -> str:
    r = spec.requirement(rid)
    tags = []
    if r is not None:
        tags.append(f'<span class="cps-tag cps-profile">{html.escape(r.profile)}</span>')
        if r.subject != "server":
            tags.append(f'<span class="cps-tag cps-subject">{html.escape(r.subject)}</span>')
        if r.verify != "test":
            tags.append(f'<span class="cps-tag cps-verify">{html.escape(r.verify)}</span>')
    return (
        f'<a class="cps-req" id="{html.escape(rid)}" href="#{html.escape(rid)}" '
        f'title="Permanent link to requirement {html.escape(rid)}">{html.escape(rid)}</a>' + "".join(tags)
    )


def document_markdown(spec: Spec, doc: Document, link: Linker, rfc_page: Callable[[str], str], heading_shift: int = 0) -> str:
    """The RFC file as Markdown for Python-Markdown: anchors explicit, requirements marked, links resolved."""
    _, body_start = split_front_matter(doc.text)
    lines = doc.text.split("\n")[body_start:]
    out = []
    in_fence = False
    has_h1 = any(HEADING_RE.match(x) and x.startswith("# ") for x in lines)
    if not has_h1:
        out.append(f"{'#' * (1 + heading_shift)} {doc.title} {{#{'doc-' + doc.name if heading_shift else doc.name}}}")
        out.append("")
    for line in lines:
        if FENCE_RE.match(line):
            in_fence = not in_fence
            # drop the example=... marker from the info string: Pygments only wants the language
            line = re.sub(r"\s+example=\S+", "", line)
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        m = HEADING_RE.match(line)
        if m:
            hashes, title = m.groups()
            am = HEADING_ANCHOR_RE.search(title)
            anchor = am.group("anchor") if am else slugify(title)
            if am:
                title = title[: am.start()].rstrip()
            title = _subst_outside_code(title, lambda s: XREF_RE.sub(lambda x: x.group("text") or x.group("target"), s))
            level = min(len(hashes) + heading_shift, 6)
            out.append(f"{'#' * level} {title} {{#{anchor}}}")
            continue
        mm = MARKER_LINE_RE.match(line)
        if mm:
            line = mm.group("lead") + requirement_badge(spec, mm.group("id")) + line[mm.end():]

        def sub(s: str) -> str:
            return XREF_RE.sub(
                lambda x: _xref(spec, x.group("kind"), x.group("target").strip(), x.group("text"), link, rfc_page), s
            )

        def fix_md_links(s: str) -> str:
            # [text](07-objects.md#anchor) -> site URL
            def repl(x):
                href = x.group(2)
                target = href.split("#")[0]
                if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I) or not target.endswith(".md") or "/" in target:
                    return x.group(0)
                path, _, anchor = href.partition("#")
                return f"]({link(rfc_page(Path(path).stem), anchor)})"

            return re.sub(r"\]\(()([^)\s]+)\)", repl, s)

        out.append(_subst_outside_code(line, lambda s: sub(fix_md_links(s))))
    if _is_error_doc(doc):
        out.append("")
        out.append(error_table_markdown(spec, heading_shift))
    return "\n".join(out) + "\n"


def _is_error_doc(doc: Document) -> bool:
    return bool(doc.meta.get("error_table")) or doc.name.endswith("-errors")


def error_table_markdown(spec: Spec, heading_shift: int = 0) -> str:
    rows = [
        f"{'#' * (2 + heading_shift)} Error codes {{#error-codes}}",
        "",
        "Generated from `spec/errors.yaml`.",
        "",
        "| Code | HTTP status | When |",
        "| --- | --- | --- |",
    ]
    for code in sorted(spec.errors):
        e = spec.errors[code]
        rows.append(f'| <span id="err-{code}"></span>`{code}` | {e.status} | {_cell(e.description)} |')
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _type_of(schema: dict) -> str:
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    t = schema.get("type", "")
    if isinstance(t, list):
        t = " or ".join(t)
    if t == "array":
        return f"array of {_type_of(schema.get('items') or {})}"
    extra = []
    if "enum" in schema:
        extra.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    if "pattern" in schema:
        extra.append(f"pattern `{schema['pattern']}`")
    for k in ("minimum", "maximum", "minLength", "maxLength"):
        if k in schema:
            extra.append(f"{k} {schema[k]}")
    if "format" in schema:
        extra.append(schema["format"])
    return str(t) + (f" ({'; '.join(extra)})" if extra else "")


# ----------------------------------------------------------------------------- generated pages
def index_markdown(spec: Spec, link: Linker) -> str:
    docs = "\n".join(
        f"| [{d.title}]({link(d.name, '')}) | {'normative' if d.normative else 'informative'} | {len(d.requirements)} |"
        for d in spec.documents
    )
    profiles = "\n".join(
        f'| <span id="profile-{p.id}"></span>**{p.name}** (`{p.id}`) | {_cell(p.summary)} | '
        f"{', '.join('`' + r + '`' for r in p.requires) or '—'} | "
        f"{', '.join('`' + o.id + '`' for o in spec.operations.values() if o.profile == p.id) or '—'} | "
        f"{sum(1 for r in spec.requirements if r.profile == p.id)} |"
        for p in spec.profiles.values()
    )
    date = spec.date or "unreleased"
    return f"""# {spec.title}

**Version:** {spec.version} · **Status:** {spec.status} · **Date:** {date}

{spec.title} ({spec.short_name}) is an open specification of a strict, minimal subset of the
Amazon S3 API, so that code written once runs against any conforming storage service.
It has {len(spec.requirements)} numbered requirements, {len(spec.operations)} operations and
{len(spec.schemas)} body schemas.

## Profiles {{#profiles}}

| Profile | Summary | Requires | Operations | Requirements |
| --- | --- | --- | --- | --- |
{profiles}

## The specification {{#contents}}

| Section | Kind | Requirements |
| --- | --- | --- |
{docs}

## Reference {{#reference}}

* [Operations reference]({link('operations', '')}), generated from the OpenAPI document
* [Requirements index]({link('requirements', '')})
* [Error codes]({link('errors', '')})
* [Downloads]({link('downloads', '')}): OpenAPI, JSON Schemas, requirement catalog, single-page RFC

The specification text is licensed under CC BY 4.0; the schemas and the toolkit under Apache-2.0.
"""


def requirements_markdown(spec: Spec, link: Linker, rfc_page: Callable[[str], str]) -> str:
    rows = []
    for r in spec.requirements:
        rows.append(
            f"| [{r.id}]({link(rfc_page(r.doc), r.id)}) | {r.keyword or '?'} | `{r.profile}` | {r.subject} | "
            f"{r.verify} | [{_cell(r.section_title)}]({link(rfc_page(r.doc), r.section)}) |"
        )
    by_profile = {}
    for r in spec.requirements:
        by_profile[r.profile] = by_profile.get(r.profile, 0) + 1
    summary = ", ".join(f"{n} in `{p}`" for p, n in sorted(by_profile.items()))
    return (
        "# Requirements index\n\n"
        f"All {len(spec.requirements)} requirements ({summary}). Each ID is permanent and links to its statement.\n"
        "The same catalog is published as `requirements.json` on the [downloads page]"
        f"({link('downloads', '')}).\n\n"
        "| ID | Keyword | Profile | Subject | Verified by | Section |\n| --- | --- | --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + "\n"
    )


def errors_page_markdown(spec: Spec, link: Linker, rfc_page: Callable[[str], str]) -> str:
    err_doc = next((d for d in spec.documents if _is_error_doc(d)), None)
    intro = "# Error codes\n\n"
    if err_doc is not None:
        intro += f"The rules for error responses are in [{err_doc.title}]({link(rfc_page(err_doc.name), '')}).\n\n"
    return intro + error_table_markdown(spec).split("\n", 1)[1]


def operations_markdown(spec: Spec, link: Linker, rfc_page: Callable[[str], str]) -> str:
    out = [
        "# Operations reference",
        "",
        "Generated from `schemas/openapi.yaml`. Each operation links to its section in the RFC, which is normative.",
        "",
        "| Operation | Request | Profile |",
        "| --- | --- | --- |",
    ]
    for op in spec.operations.values():
        out.append(f"| [`{op.id}`](#{op.id}) | `{op.method} {_display_path(op)}` | `{op.profile}` |")
    for op in spec.operations.values():
        out += ["", f"## {op.id} {{#{op.id}}}", ""]
        found = spec.operation_section(op.id)
        if found:
            out.append(f"Normative text: [{found[1].title}]({link(rfc_page(found[0].name), found[1].anchor)}). ")
        out.append(f"Profile: `{op.profile}`. Request: `{op.method} {_display_path(op)}`.")
        dispatch = op.extensions.get("x-cps-dispatch")
        if dispatch:
            out.append(f"Told apart from other operations on the same path by: `{json.dumps(dispatch, sort_keys=True)}`.")
        if op.summary:
            out += ["", _cell(op.summary)]
        if op.parameters:
            out += ["", "**Parameters**", "", "| Name | In | Required | Type | Description |", "| --- | --- | --- | --- | --- |"]
            for p in op.parameters:
                out.append(
                    f"| `{p.name}` | {p.location_in} | {'yes' if p.required else 'no'} | {_cell(_type_of(p.schema))} | "
                    f"{_cell(p.description)} |"
                )
        if op.request_body:
            bodies = ", ".join(
                f"`{mt}`" + (f" [{name}]({link('schemas/' + name, '')})" if name else "") for mt, name in op.request_body.items()
            )
            out += ["", f"**Request body** ({'required' if op.request_body_required else 'optional'}): {bodies}"]
        out += ["", "**Responses**", "", "| Status | Description | Body | Error codes |", "| --- | --- | --- | --- |"]
        for status, r in sorted(op.responses.items()):
            body = ", ".join(f"[{n}]({link('schemas/' + n, '')})" for n in r.media_types.values() if n) or "—"
            errs = ", ".join(f"[`{e}`]({link('errors', 'err-' + e)})" for e in r.errors) or "—"
            out.append(f"| {status} | {_cell(r.description)} | {body} | {errs} |")
        if op.requirements:
            reqs = ", ".join(f"[{rid}]({link(rfc_page(spec.requirement(rid).doc), rid)})" for rid in op.requirements)
            out += ["", f"**Requirements** ({len(op.requirements)}): {reqs}"]
    return "\n".join(out) + "\n"


def _display_path(op) -> str:
    path = op.path.split("#", 1)[0]
    dispatch = op.extensions.get("x-cps-dispatch") or {}
    query = dispatch.get("query") if isinstance(dispatch, dict) else None
    if query:
        path += "?" + "&".join(str(q) for q in query)
    return path


def schema_markdown(spec: Spec, name: str, link: Linker) -> str:
    s = spec.schemas[name]
    data = s.data
    xml = data.get("xml") or {}
    out = [f"# {name}", "", _cell(data.get("description", data.get("title", ""))), ""]
    out.append(f"XML root element `<{xml.get('name', name)}>`" + (f" in namespace `{xml['namespace']}`." if xml.get("namespace") else "."))
    users = []
    for op in spec.operations.values():
        if name in op.request_body.values():
            users.append(f"[`{op.id}`]({link('operations', op.id)}) request")
        for status, r in op.responses.items():
            if name in r.media_types.values():
                users.append(f"[`{op.id}`]({link('operations', op.id)}) {status}")
    if users:
        out += ["", "Used by: " + ", ".join(sorted(set(users))) + "."]
    required = set(data.get("required") or [])
    props = data.get("properties") or {}
    if props:
        out += ["", "| Element | Type | Required | Description |", "| --- | --- | --- | --- |"]
        for pname, ps in props.items():
            out.append(
                f"| `{pname}` | {_cell(_type_of(ps))} | {'yes' if pname in required else 'no'} | "
                f"{_cell((ps or {}).get('description', ''))} |"
            )
    for i, ex in enumerate(data.get("examples") or []):
        out += ["", f"## Example {i + 1}", "", "```xml", json_to_xml(name, ex, xml.get("namespace")).rstrip(), "```"]
    out += ["", "## JSON Schema", "", "```json", json.dumps(data, indent=2, ensure_ascii=False), "```"]
    return "\n".join(out) + "\n"


def downloads_markdown(files: list[tuple[str, int, str]], prefix: str = "downloads/") -> str:
    rows = "\n".join(
        f"| [`{n}`]({prefix}{n}) | {size if isinstance(size, str) else format(size, ',')} bytes | `{digest}` |"
        for n, size, digest in files
    )
    return (
        "# Downloads\n\n"
        "Every artifact is built from the same sources as this site. Verify a download with\n"
        "`sha256sum -c SHA256SUMS`.\n\n| File | Size | SHA-256 |\n| --- | --- | --- |\n" + rows + "\n"
    )


CSS = """\
.cps-req { font-family: var(--md-code-font-family, monospace); font-weight: 700; font-size: .85em;
  background: var(--md-code-bg-color, #f5f5f5); padding: .05em .35em; border-radius: .2em;
  text-decoration: none; margin-right: .3em; scroll-margin-top: 4rem; }
.cps-req:target { outline: 2px solid var(--md-accent-fg-color, #526cfe); }
.cps-tag { font-size: .7em; text-transform: uppercase; letter-spacing: .03em; border: 1px solid currentColor;
  border-radius: .2em; padding: 0 .3em; margin-right: .3em; opacity: .75; }
"""
