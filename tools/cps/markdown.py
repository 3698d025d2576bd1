"""Parsing of the RFC Markdown sources into :class:`cps.model.Document` objects.

Block structure comes from markdown-it-py (its token maps give line numbers); keywords,
cross-references and links are found in the raw text with code spans masked, so every
finding has an exact line and column.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from markdown_it import MarkdownIt

from cps.diagnostics import Diagnostic, Location, rule
from cps.model import RFC2119, CodeBlock, Document, Heading, Keyword, Link, Requirement
from cps.yamlio import parse_yaml, to_plain

FRONT_MATTER = rule("MD001", "front-matter", "An RFC file has missing or invalid front matter.")
REQ_ATTRS = rule("REQ006", "requirement-attributes", "A requirement's attribute block is malformed.")

KEYWORD_RE = re.compile(
    r"(?<![\w-])(" + "|".join(w.replace(" ", r"(?:[ \t]+|[ \t]*\n[ \t]*)") for w in RFC2119) + r")(?![\w-])"
)
# A requirement marker at the start of a paragraph: [CPS-...] not followed by ( or [ (a link).
MARKER_RE = re.compile(r"^\[(?P<id>[A-Za-z]+-[^\]\s]*)\](?![(\[])(?:\{(?P<attrs>[^}]*)\})?[ \t]*")
XREF_RE = re.compile(r"\[\[(?P<kind>[a-z]+):(?P<target>[^\]|]+?)(?:\|(?P<text>[^\]]+))?\]\]")
HEADING_ANCHOR_RE = re.compile(r"\s*\{#(?P<anchor>[A-Za-z][\w.:-]*)\}\s*$")
CODE_SPAN_RE = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")
QUOTED_RE = re.compile(r"\"[A-Z ]+\"|“[A-Z ]+”")
HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
LINK_TARGET_RE = re.compile(r"\]\((?P<href>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
VALID_ATTRS = {"profile", "subject", "verify"}

_md = MarkdownIt("commonmark").enable("table")


def slugify(title: str) -> str:
    """Anchor for a heading without an explicit ``{#anchor}`` (same rule as Python-Markdown's toc)."""
    s = re.sub(r"`|\[\[[a-z]+:([^\]|]+)(?:\|([^\]]+))?\]\]", lambda m: m.group(2) or m.group(1) or "", title)
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"[^\w\s-]", "", s.lower()).strip()
    return re.sub(r"[-\s]+", "-", s)


def _mask(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


@dataclass
class _Lines:
    starts: list[int]

    @classmethod
    def of(cls, text: str) -> "_Lines":
        starts = [0]
        for m in re.finditer("\n", text):
            starts.append(m.end())
        return cls(starts)

    def pos(self, offset: int) -> tuple[int, int]:
        i = bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1


def split_front_matter(text: str) -> tuple[str | None, int]:
    """Return (front matter YAML, first body line index) for ``---``-delimited front matter."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, 0
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), i + 1
    return None, 0


def parse_attrs(raw: str) -> tuple[dict[str, str], list[str]]:
    attrs, bad = {}, []
    for part in raw.split():
        if "=" not in part:
            bad.append(part)
            continue
        k, v = part.split("=", 1)
        if k not in VALID_ATTRS or not v:
            bad.append(part)
        else:
            attrs[k] = v
    return attrs, bad


def parse_document(rel: str, text: str, name: str) -> tuple[Document, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    fm_text, body_start = split_front_matter(text)
    meta: dict = {}
    if fm_text is None:
        diags.append(
            FRONT_MATTER.at(
                Location(rel, 1, 1),
                "missing front matter: the file must start with a `---` block giving `title` and `normative`",
            )
        )
    else:
        yf, ydiags = parse_yaml("\n" + fm_text, rel)  # leading newline: YAML line N is file line N
        diags.extend(ydiags)
        if yf is not None:
            meta = to_plain(yf.data) or {}
            if not isinstance(meta, dict):
                diags.append(FRONT_MATTER.at(Location(rel, 2, 1), "front matter must be a mapping"))
                meta = {}
            for key in ("title", "normative"):
                if key not in meta:
                    diags.append(FRONT_MATTER.at(Location(rel, 1, 1), f"front matter has no `{key}`"))
            if "normative" in meta and not isinstance(meta["normative"], bool):
                diags.append(FRONT_MATTER.at(yf.loc("normative"), "`normative` must be true or false"))
    doc = Document(
        name=name,
        rel=rel,
        title=str(meta.get("title") or name),
        text=text,
        meta=meta,
        normative=bool(meta.get("normative", False)),
    )
    lines = text.split("\n")
    # Blank out the front matter so markdown-it line numbers stay those of the file.
    body = "\n" * body_start + "\n".join(lines[body_start:])
    tokens = _md.parse(body)
    default_profile = str(meta.get("profile", "core"))

    req_blocks: list[tuple[int, int, Requirement]] = []
    current = Heading(1, doc.title, "", Location(rel, 1, 1))
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map:
            inline = tokens[i + 1]
            title = inline.content
            m = HEADING_ANCHOR_RE.search(title)
            anchor = m.group("anchor") if m else slugify(title)
            if m:
                title = title[: m.start()].rstrip()
            line = tok.map[0] + 1
            col = lines[tok.map[0]].find(inline.content[:10]) + 1 if inline.content else 1
            current = Heading(int(tok.tag[1]), title, anchor, Location(rel, line, max(col, 1)))
            doc.headings.append(current)
        elif tok.type == "fence" and tok.map:
            info = tok.info.strip()
            parts = info.split()
            lang = parts[0] if parts else ""
            example_of = None
            for p in parts[1:]:
                if p.startswith("example="):
                    example_of = p.split("=", 1)[1]
            doc.code_blocks.append(
                CodeBlock(lang, info, tok.content, example_of, Location(rel, tok.map[0] + 1, 1), tok.map[0] + 2)
            )
        elif tok.type == "paragraph_open" and tok.map:
            inline = tokens[i + 1]
            start, end = tok.map
            m = MARKER_RE.match(inline.content)
            if not m:
                continue
            # column of the marker in the source line
            src_line = lines[start]
            col = src_line.find("[" + m.group("id")) + 1
            attrs, bad = parse_attrs(m.group("attrs") or "")
            loc = Location(rel, start + 1, max(col, 1))
            for b in bad:
                diags.append(
                    REQ_ATTRS.at(
                        loc,
                        f"unknown requirement attribute `{b}`",
                        hint="attributes are profile=<id>, subject=server|client, verify=test|inspection",
                    )
                )
            req = Requirement(
                id=m.group("id"),
                keyword=None,
                keywords=[],
                text=inline.content[m.end() :].strip(),
                profile=attrs.get("profile", default_profile),
                subject=attrs.get("subject", "server"),
                verify=attrs.get("verify", "test"),
                section=current.anchor,
                section_title=current.title,
                doc=name,
                location=loc,
                attrs_location=loc if m.group("attrs") else None,
            )
            doc.requirements.append(req)
            req_blocks.append((start, end, req))

    # Raw-text scans: keywords, cross-references, links. Fenced code, HTML comments, front
    # matter and code spans are masked so they never count.
    masked = body
    fence_ranges = [(t.map[0], t.map[1]) for t in tokens if t.type in ("fence", "code_block") and t.map]
    mlines = masked.split("\n")
    for a, b in fence_ranges:
        for k in range(a, min(b, len(mlines))):
            mlines[k] = " " * len(mlines[k])
    masked = "\n".join(mlines)
    masked = _mask(masked, HTML_COMMENT_RE)
    no_code = _mask(masked, CODE_SPAN_RE)
    index = _Lines.of(body)

    for m in XREF_RE.finditer(no_code):
        line, col = index.pos(m.start())
        doc.links.append(
            Link(m.group("kind"), m.group("target").strip(), m.group("text") or "", Location(rel, line, col))
        )
    for m in LINK_TARGET_RE.finditer(no_code):
        line, col = index.pos(m.start("href"))
        doc.links.append(Link("url", m.group("href"), "", Location(rel, line, col)))

    kw_text = _mask(_mask(no_code, XREF_RE), QUOTED_RE)
    kw_text = _mask(kw_text, LINK_TARGET_RE)
    for m in KEYWORD_RE.finditer(kw_text):
        line, col = index.pos(m.start())
        word = " ".join(m.group(1).split())
        kw = Keyword(word, Location(rel, line, col))
        owner = None
        for a, b, req in req_blocks:
            if a < line <= b:
                owner = req
                break
        if owner is not None:
            owner.keywords.append(kw)
        else:
            doc.stray_keywords.append(kw)
    for req in doc.requirements:
        if len(req.keywords) == 1:
            req.keyword = req.keywords[0].word
    return doc, diags
