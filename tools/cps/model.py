"""The single in-memory model of the specification.

``load(root)`` parses every source once: RFC Markdown (``spec/*.md``), the spec metadata,
profiles and error table (``spec/*.yaml``), the OpenAPI document and the JSON Schemas
(``schemas/``). Checks, renderers and the differ only ever read a :class:`Spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cps.diagnostics import Diagnostic, Location

RFC2119 = (
    "MUST NOT",
    "MUST",
    "REQUIRED",
    "SHALL NOT",
    "SHALL",
    "SHOULD NOT",
    "SHOULD",
    "NOT RECOMMENDED",
    "RECOMMENDED",
    "MAY",
    "OPTIONAL",
)

SUBJECTS = ("server", "client")
VERIFICATIONS = ("test", "inspection")


@dataclass
class Heading:
    level: int
    title: str
    anchor: str
    location: Location


@dataclass
class Link:
    """A Markdown link or a ``[[kind:target]]`` cross-reference found in the RFC."""

    kind: str  # "url" (markdown link) or one of "op", "req", "err", "schema", "profile", "sec"
    target: str
    text: str
    location: Location


@dataclass
class Keyword:
    word: str
    location: Location


@dataclass
class Requirement:
    id: str
    keyword: str | None  # the single RFC 2119 keyword, when there is exactly one
    keywords: list[Keyword]
    text: str  # statement text (Markdown), without the ID marker and attributes
    profile: str
    subject: str
    verify: str
    section: str  # anchor of the nearest heading
    section_title: str
    doc: str  # spec document name, e.g. "04-objects"
    location: Location
    attrs_location: Location | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "keyword": self.keyword,
            "profile": self.profile,
            "subject": self.subject,
            "verification": self.verify,
            "section": self.section_title,
            "anchor": f"{self.doc}/#{self.id}",
            "text": self.text,
            "source": {"file": self.location.path, "line": self.location.line},
        }


@dataclass
class CodeBlock:
    lang: str
    info: str
    content: str
    example_of: str | None  # schema name when marked ``example=Name``
    location: Location  # line of the opening fence
    content_line: int  # first line of content


@dataclass
class Document:
    """One RFC Markdown file."""

    name: str  # file stem, e.g. "02-conventions"
    rel: str  # path relative to the root
    title: str
    text: str
    meta: dict[str, Any]
    normative: bool
    headings: list[Heading] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    stray_keywords: list[Keyword] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    code_blocks: list[CodeBlock] = field(default_factory=list)
    directives: list[tuple[str, Location]] = field(default_factory=list)

    @property
    def anchors(self) -> set[str]:
        return {h.anchor for h in self.headings} | {r.id for r in self.requirements}


@dataclass
class Example:
    """An example body: from the OpenAPI document or an RFC code block."""

    schema: str | None  # schema name it must validate against
    media_type: str  # application/xml or application/json
    value: Any
    location: Location
    origin: str  # human description ("GetObject 404 example NoSuchKey")


@dataclass
class Parameter:
    name: str
    location_in: str  # path, query, header, cookie
    required: bool
    schema: dict[str, Any]
    description: str


@dataclass
class Response:
    status: str
    description: str
    headers: dict[str, dict[str, Any]]
    media_types: dict[str, str | None]  # media type -> schema name (None when inline)
    errors: list[str]  # S3 error codes this status is used for (x-cps-errors)
    location: Location


@dataclass
class Operation:
    id: str  # AWS operation name, e.g. GetObject
    method: str
    path: str  # OpenAPI path key
    summary: str
    profile: str | None
    requirements: list[str]
    parameters: list[Parameter]
    request_body: dict[str, str | None]  # media type -> schema name
    request_body_required: bool
    responses: dict[str, Response]
    raw: dict[str, Any]
    location: Location
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass
class Schema:
    name: str  # file stem, e.g. "ListBucketResult"
    rel: str
    data: dict[str, Any]  # plain JSON value
    yaml: Any  # the ruamel node (for locations)
    location: Location


@dataclass
class Profile:
    id: str
    name: str
    summary: str
    requires: list[str]
    location: Location


@dataclass
class ErrorCode:
    code: str
    status: int
    description: str
    location: Location


@dataclass
class Spec:
    root: Path
    title: str = "Cloud Portable Storage"
    short_name: str = "CPS"
    version: str = "draft"
    status: str = "Draft"
    date: str | None = None
    id_areas: dict[str, str] = field(default_factory=dict)
    retired_ids: dict[str, str] = field(default_factory=dict)
    documents: list[Document] = field(default_factory=list)
    profiles: dict[str, Profile] = field(default_factory=dict)
    errors: dict[str, ErrorCode] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    schemas: dict[str, Schema] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    openapi: dict[str, Any] | None = None  # plain (refs to schema files left as they are)
    openapi_yaml: Any = None  # ruamel node, for locations
    openapi_rel: str = "schemas/openapi.yaml"
    yaml_files: dict[str, Any] = field(default_factory=dict)  # rel -> YamlFile
    load_diagnostics: list[Diagnostic] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def requirements(self) -> list[Requirement]:
        return [r for d in self.documents for r in d.requirements]

    def requirement(self, rid: str) -> Requirement | None:
        for r in self.requirements:
            if r.id == rid:
                return r
        return None

    def document(self, name: str) -> Document | None:
        for d in self.documents:
            if d.name == name:
                return d
        return None

    def operation_section(self, op_id: str) -> tuple[Document, Heading] | None:
        anchor = f"op-{op_id}"
        for d in self.documents:
            for h in d.headings:
                if h.anchor == anchor:
                    return d, h
        return None


def load(root: Path) -> Spec:
    from cps import loader

    return loader.load(root)
