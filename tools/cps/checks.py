"""Every check is a function from the model to diagnostics. ``run_checks`` runs them all."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Callable, Iterable, Iterator

from cps.diagnostics import WARNING, Diagnostic, Location, rule
from cps.model import Spec
from cps.openapi import bundle, schema_file_ref, source_location
from cps.xmlmap import XmlMappingError, xml_to_json

# ----------------------------------------------------------------------------- rules
OAS_INVALID = rule("OAS001", "openapi-invalid", "The OpenAPI document is not valid OpenAPI 3.1.")
OAS_REF = rule("OAS002", "openapi-schema-ref", "A schema reference in the OpenAPI document does not resolve.")
OAS_OPID = rule("OAS003", "operation-id", "An operation has no operationId or shares one with another operation.")
SCH_META = rule("SCH001", "schema-invalid", "A JSON Schema is not valid against the 2020-12 metaschema.")
SCH_NAME = rule("SCH002", "schema-xml-name", "A body schema's xml.name differs from its file name.")
EXM_INVALID = rule("EXM001", "example-invalid", "An example does not validate against its schema.")
EXM_SCHEMA = rule("EXM002", "example-unknown-schema", "An example names a schema that does not exist.")
EXM_XML = rule("EXM003", "example-xml", "An XML example is not well-formed or has the wrong root element.")
REQ_FORMAT = rule("REQ001", "requirement-id-format", "A requirement ID is not CPS-<AREA>-<NNN> with a declared area.")
REQ_DUP = rule("REQ002", "requirement-id-duplicate", "Two requirements share one ID.")
REQ_RETIRED = rule("REQ003", "requirement-id-retired", "A requirement uses a retired ID; retired IDs stay reserved forever.")
REQ_KEYWORDS = rule("REQ004", "requirement-keyword-count", "A requirement has no, or more than one, RFC 2119 keyword.")
REQ_STRAY = rule("REQ005", "stray-keyword", "A capitalised RFC 2119 keyword appears outside a requirement statement.")
REQ_PROFILE = rule("REQ007", "requirement-profile", "A requirement names a profile, subject or verification that does not exist.")
REQ_INFORMATIVE = rule("REQ008", "requirement-in-informative", "A requirement stands in a non-normative section.")
PRF_UNKNOWN = rule("PRF001", "profile-unknown", "A profile or operation refers to a profile that is not defined.")
LNK_BROKEN = rule("LNK001", "broken-reference", "A cross-reference does not resolve.")
LNK_KIND = rule("LNK002", "unknown-reference-kind", "A [[kind:target]] cross-reference uses an unknown kind.")
LNK_FILE = rule("LNK003", "broken-link", "A relative link points to a missing file or anchor.")
LNK_ANCHOR = rule("LNK004", "duplicate-anchor", "Two headings or requirements in one page share an anchor.")
OPS_UNDESCRIBED = rule("OPS001", "operation-undescribed", "An OpenAPI operation has no RFC section (heading anchor op-<OperationId>).")
OPS_UNKNOWN = rule("OPS002", "operation-unknown", "The RFC names an operation that the OpenAPI document does not define.")
ERR_UNDEFINED = rule("ERR001", "error-undefined", "An error code is used but not defined in spec/errors.yaml.")
ERR_STATUS = rule("ERR002", "error-status", "An error code is listed under an HTTP status other than the one the error table gives.")

XREF_KINDS = ("op", "req", "err", "schema", "profile", "sec")
SUBJECTS = ("server", "client")
VERIFICATIONS = ("test", "inspection")
ID_RE = re.compile(r"^CPS-(?P<area>[A-Z]+)-(?P<num>\d{3})$")

Check = Callable[[Spec], Iterable[Diagnostic]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


# ----------------------------------------------------------------------------- OpenAPI
@check
def openapi_valid(spec: Spec) -> Iterator[Diagnostic]:
    if spec.openapi is None:
        return
    doc = bundle(spec, with_requirements=False)
    seen = set()
    try:
        errors = _openapi_errors(spec, doc)
    except Exception as exc:  # the validator can fail on deeply broken documents
        yield OAS_INVALID.at(Location(spec.openapi_rel, 1, 1), f"OpenAPI validation could not run: {exc}")
        return
    for path, msg in errors:
        key = (tuple(path), msg)
        if key in seen:
            continue
        seen.add(key)
        where = "/".join(str(p) for p in path)
        yield OAS_INVALID.at(source_location(spec, path), f"{msg}" + (f" (at {where})" if where else ""))


def _openapi_errors(spec: Spec, doc: dict) -> list[tuple[list, str]]:
    """openapi-spec-validator's findings, cached by the document's content (validation is slow)."""
    from importlib.metadata import version

    from cps import cache

    def compute():
        from openapi_spec_validator import OpenAPIV31SpecValidator  # slow import: only on a miss

        return [
            (list(getattr(err, "path", []) or []), getattr(err, "message", None) or str(err))
            for err in OpenAPIV31SpecValidator(doc).iter_errors()
        ]

    return cache.cached("openapi", (version("openapi-spec-validator"), json.dumps(doc, sort_keys=True)), compute)


@check
def openapi_schema_refs(spec: Spec) -> Iterator[Diagnostic]:
    if spec.openapi is None:
        return
    yf = spec.yaml_files[spec.openapi_rel]
    comps = (spec.openapi.get("components") or {}).get("schemas") or {}
    rels = {s.rel for s in spec.schemas.values()}
    for name, value in comps.items():
        ref = schema_file_ref(value)
        if ref is not None and f"schemas/{ref}" not in rels:
            yield OAS_REF.at(
                yf.loc("components", "schemas", name, "$ref"),
                f"component schema {name} refers to schemas/{ref}, which does not exist",
            )

    for node, path in mappings(spec.openapi):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] not in comps:
            yield OAS_REF.at(yf.loc(*path, "$ref"), f"$ref {ref} names no component schema")


def mappings(node, path: tuple = ()) -> Iterator[tuple[dict, tuple]]:
    """Every mapping inside a plain JSON value, with its path."""
    if isinstance(node, dict):
        yield node, path
        for k, v in node.items():
            yield from mappings(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from mappings(v, (*path, i))


@check
def operation_ids(spec: Spec) -> Iterator[Diagnostic]:
    if spec.openapi is None:
        return
    yf = spec.yaml_files[spec.openapi_rel]
    seen: dict[str, Location] = {}
    for key, item in (spec.openapi.get("paths") or {}).items():
        for method, op in (item or {}).items():
            if not isinstance(op, dict) or method not in ("get", "put", "post", "delete", "head", "options", "patch"):
                continue
            oid = op.get("operationId")
            loc = yf.loc("paths", key, method)
            if not oid:
                yield OAS_OPID.at(loc, f"{method.upper()} {key} has no operationId")
            elif oid in seen:
                yield OAS_OPID.at(yf.loc("paths", key, method, "operationId"), f"operationId {oid} is also used at {seen[oid]}")
            else:
                seen[oid] = loc


# ----------------------------------------------------------------------------- JSON Schemas
@check
def schemas_valid(spec: Spec) -> Iterator[Diagnostic]:
    from jsonschema import Draft202012Validator

    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    for s in spec.schemas.values():
        yf = spec.yaml_files[s.rel]
        for err in sorted(meta.iter_errors(s.data), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            yield SCH_META.at(yf.loc(*err.absolute_path), f"{err.message} (at {where})")
        xml = s.data.get("xml") if isinstance(s.data.get("xml"), dict) else {}
        if xml.get("name") != s.name:
            yield SCH_NAME.at(
                yf.loc("xml", "name") if xml else yf.loc(),
                f"xml.name is {xml.get('name')!r}; the schema file {s.rel} says the root element is {s.name!r}",
                hint="name the file after the XML root element and set xml.name to the same name",
            )


# ----------------------------------------------------------------------------- examples
@check
def examples_valid(spec: Spec) -> Iterator[Diagnostic]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    validators = {}
    for ex in spec.examples:
        if ex.schema is None:
            continue
        s = spec.schemas.get(ex.schema)
        if s is None:
            yield EXM_SCHEMA.at(ex.location, f"{ex.origin}: no schema named {ex.schema!r} in schemas/bodies/")
            continue
        value = ex.value
        if ex.media_type.endswith("xml"):
            if not isinstance(value, str):
                yield EXM_XML.at(ex.location, f"{ex.origin}: an application/xml example must be an XML string")
                continue
            try:
                root, value = xml_to_json(value, s.data)
            except XmlMappingError as exc:
                yield EXM_XML.at(ex.location, f"{ex.origin}: {exc}")
                continue
            if root != s.name:
                yield EXM_XML.at(ex.location, f"{ex.origin}: root element is <{root}>, schema {s.name} expects <{s.name}>")
                continue
        elif isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                yield EXM_INVALID.at(ex.location, f"{ex.origin}: not valid JSON: {exc}")
                continue
        if ex.schema not in validators:
            try:
                Draft202012Validator.check_schema(s.data)
                validators[ex.schema] = Draft202012Validator(s.data, format_checker=Draft202012Validator.FORMAT_CHECKER)
            except SchemaError:
                validators[ex.schema] = None  # reported by schemas_valid
        v = validators[ex.schema]
        if v is None:
            continue
        for err in v.iter_errors(value):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            yield EXM_INVALID.at(ex.location, f"{ex.origin} is not valid against {ex.schema}: {err.message} (at {where})")


# ----------------------------------------------------------------------------- requirements
@check
def requirement_ids(spec: Spec) -> Iterator[Diagnostic]:
    seen: dict[str, Location] = {}
    for r in spec.requirements:
        m = ID_RE.match(r.id)
        if not m:
            yield REQ_FORMAT.at(r.location, f"requirement ID {r.id!r} is not of the form CPS-<AREA>-<NNN>",
                                hint="three digits, e.g. CPS-OBJ-012")
        elif m.group("area") not in spec.id_areas:
            yield REQ_FORMAT.at(
                r.location,
                f"requirement ID {r.id} uses area {m.group('area')!r}, which spec/cps.yaml does not declare",
                hint="declared areas: " + ", ".join(sorted(spec.id_areas)),
            )
        if r.id in spec.retired_ids:
            yield REQ_RETIRED.at(r.location, f"{r.id} is retired ({spec.retired_ids[r.id]}); take a new ID")
        if r.id in seen:
            yield REQ_DUP.at(r.location, f"{r.id} is already used at {seen[r.id]}")
        else:
            seen[r.id] = r.location


@check
def requirement_keywords(spec: Spec) -> Iterator[Diagnostic]:
    for d in spec.documents:
        for r in d.requirements:
            if not r.keywords:
                yield REQ_KEYWORDS.at(r.location, f"{r.id} has no RFC 2119 keyword (MUST, SHOULD, MAY, ...)")
            elif len(r.keywords) > 1:
                words = ", ".join(k.word for k in r.keywords)
                yield REQ_KEYWORDS.at(
                    r.keywords[1].location,
                    f"{r.id} has {len(r.keywords)} RFC 2119 keywords ({words}); state one per requirement",
                    hint="split it into separate requirements, each with its own ID",
                )
        for k in d.stray_keywords:
            if d.normative:
                msg = f"{k.word} outside a requirement statement: every normative sentence needs a requirement ID"
                hint = "start the paragraph with [CPS-<AREA>-<NNN>], or write the word in lower case"
            else:
                msg = f"{k.word} in an informative section"
                hint = "write it in lower case, or put it in backticks when you mean the word itself"
            yield REQ_STRAY.at(k.location, msg, hint=hint)


@check
def requirement_attributes(spec: Spec) -> Iterator[Diagnostic]:
    for d in spec.documents:
        if not d.normative and d.requirements:
            for r in d.requirements:
                yield REQ_INFORMATIVE.at(r.location, f"{r.id} is in {d.rel}, whose front matter says normative: false")
        for r in d.requirements:
            if spec.profiles and r.profile not in spec.profiles:
                yield REQ_PROFILE.at(r.location, f"{r.id} names profile {r.profile!r}, which spec/profiles.yaml does not define")
            if r.subject not in SUBJECTS:
                yield REQ_PROFILE.at(r.location, f"{r.id}: subject must be server or client, not {r.subject!r}")
            if r.verify not in VERIFICATIONS:
                yield REQ_PROFILE.at(r.location, f"{r.id}: verify must be test or inspection, not {r.verify!r}")


@check
def profiles_defined(spec: Spec) -> Iterator[Diagnostic]:
    for p in spec.profiles.values():
        for dep in p.requires:
            if dep not in spec.profiles:
                yield PRF_UNKNOWN.at(p.location, f"profile {p.id} requires {dep!r}, which is not defined")
    for op in spec.operations.values():
        if op.profile is None:
            yield PRF_UNKNOWN.at(op.location, f"operation {op.id} has no x-cps-profile")
        elif spec.profiles and op.profile not in spec.profiles:
            yield PRF_UNKNOWN.at(_op_loc(spec, op, "x-cps-profile"), f"operation {op.id} has x-cps-profile {op.profile!r}, which is not defined")
    for d in spec.documents:
        prof = d.meta.get("profile")
        if prof is not None and spec.profiles and prof not in spec.profiles:
            yield PRF_UNKNOWN.at(Location(d.rel, 1, 1), f"front matter profile {prof!r} is not defined")


def _op_loc(spec: Spec, op, *path) -> Location:
    method = op.method.lower()
    return spec.yaml_files[spec.openapi_rel].loc("paths", op.path, method, *path)


# ----------------------------------------------------------------------------- references
def _anchors(spec: Spec) -> dict[str, set[str]]:
    return {d.name: d.anchors for d in spec.documents}


@check
def duplicate_anchors(spec: Spec) -> Iterator[Diagnostic]:
    for d in spec.documents:
        seen: dict[str, Location] = {}
        for h in d.headings:
            if h.anchor in seen:
                yield LNK_ANCHOR.at(h.location, f"anchor #{h.anchor} is already used at {seen[h.anchor]}",
                                    hint="give one of the headings an explicit {#anchor}")
            else:
                seen[h.anchor] = h.location


@check
def references(spec: Spec) -> Iterator[Diagnostic]:
    anchors = _anchors(spec)
    req_ids = {r.id for r in spec.requirements}
    op_sections = {h.anchor[3:] for d in spec.documents for h in d.headings if h.anchor.startswith("op-")}
    for d in spec.documents:
        for link in d.links:
            kind, target = link.kind, link.target
            if kind == "url":
                yield from _check_url(spec, d, link, anchors)
                continue
            if kind not in XREF_KINDS:
                yield LNK_KIND.at(link.location, f"unknown cross-reference kind {kind!r}",
                                  hint="use one of: " + ", ".join(XREF_KINDS))
            elif kind == "req" and target not in req_ids:
                msg = f"[[req:{target}]] names no requirement"
                if target in spec.retired_ids:
                    msg += f" ({target} is retired: {spec.retired_ids[target]})"
                yield LNK_BROKEN.at(link.location, msg)
            elif kind == "op" and target not in spec.operations:
                yield OPS_UNKNOWN.at(link.location, f"[[op:{target}]]: the OpenAPI document defines no operation {target}")
            elif kind == "op" and target not in op_sections:
                yield LNK_BROKEN.at(link.location, f"[[op:{target}]]: no RFC section has the anchor op-{target}")
            elif kind == "err" and target not in spec.errors:
                yield ERR_UNDEFINED.at(link.location, f"error code {target} is not defined in spec/errors.yaml")
            elif kind == "schema" and target not in spec.schemas:
                yield LNK_BROKEN.at(link.location, f"[[schema:{target}]]: no schemas/bodies/{target}.yaml")
            elif kind == "profile" and target not in spec.profiles:
                yield LNK_BROKEN.at(link.location, f"[[profile:{target}]]: no such profile in spec/profiles.yaml")
            elif kind == "sec":
                page, _, anchor = target.rpartition("#")
                page = page or d.name
                if page not in anchors:
                    yield LNK_BROKEN.at(link.location, f"[[sec:{target}]]: no RFC file spec/{page}.md")
                elif anchor not in anchors[page]:
                    yield LNK_BROKEN.at(link.location, f"[[sec:{target}]]: spec/{page}.md has no anchor #{anchor}")


def _check_url(spec: Spec, d, link, anchors) -> Iterator[Diagnostic]:
    href = link.target
    if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):
        return  # absolute URL (https:, mailto:): not checked offline
    path, _, anchor = href.partition("#")
    if not path:
        page = d.name
    else:
        p = PurePosixPath(path)
        if p.suffix != ".md" or len(p.parts) != 1:
            target = (spec.root / PurePosixPath(d.rel).parent / path).resolve()
            if not target.exists():
                yield LNK_FILE.at(link.location, f"link target {path} does not exist")
            return
        page = p.stem
        if page not in anchors:
            yield LNK_FILE.at(link.location, f"link target spec/{path} does not exist")
            return
    if anchor and anchor not in anchors[page]:
        yield LNK_FILE.at(link.location, f"spec/{page}.md has no anchor #{anchor}")


# ----------------------------------------------------------------------------- operations
@check
def operations_described(spec: Spec) -> Iterator[Diagnostic]:
    headings = {}
    for d in spec.documents:
        for h in d.headings:
            if h.anchor.startswith("op-"):
                headings[h.anchor[3:]] = h
    for op in spec.operations.values():
        if op.id not in headings:
            yield OPS_UNDESCRIBED.at(
                op.location,
                f"operation {op.id} is not described in the RFC",
                hint=f"add a section with the heading anchor {{#op-{op.id}}}",
            )
    if spec.openapi is None:
        return
    for name, h in headings.items():
        if name not in spec.operations:
            yield OPS_UNKNOWN.at(h.location, f"section #op-{name} describes {name}, which the OpenAPI document does not define")


@check
def error_codes(spec: Spec) -> Iterator[Diagnostic]:
    if spec.openapi is None:
        return
    yf = spec.yaml_files[spec.openapi_rel]

    for node, path in mappings(spec.openapi):
        codes = node.get("x-cps-errors")
        if not isinstance(codes, list):
            continue
        status = path[-1] if path and str(path[-1]).isdigit() else None
        for i, code in enumerate(codes):
            loc = yf.loc(*path, "x-cps-errors", i)
            if code not in spec.errors:
                yield ERR_UNDEFINED.at(loc, f"error code {code} is not defined in spec/errors.yaml")
            elif status is not None and spec.errors[code].status != int(status):
                yield ERR_STATUS.at(
                    loc, f"{code} is listed under status {status}, but the error table gives {spec.errors[code].status}"
                )


def run_checks(spec: Spec, extra: Iterable[Check] = ()) -> list[Diagnostic]:
    diags = list(spec.load_diagnostics)
    for fn in [*CHECKS, *extra]:
        diags.extend(fn(spec))
    # one finding per place and message
    unique = {(d.code, d.location, d.message): d for d in diags}
    return sorted(unique.values(), key=Diagnostic.sort_key)


__all__ = ["CHECKS", "run_checks", "WARNING"]
