# SPDX-License-Identifier: Apache-2.0
"""Semantic comparison of two versions of the specification (``cps diff``).

Each side is loaded with :func:`cps.loader.load` into a :class:`cps.model.Spec`, reduced to a
*snapshot* (plain JSON data: operations, parameters, headers, bodies, status and error codes,
the error table, profiles and requirements, each with its source location), and the two
snapshots are compared. Every difference is a :class:`Change` that carries a stable rule ID from
:data:`CHANGE_RULES`, a severity (``breaking``, ``non-breaking``, ``editorial``), whom it breaks
(``servers``, ``clients``, ``both``, ``none``), the locations in both versions, a message and a
stable fingerprint (see :func:`fingerprint`) that ``.cps-accepted-changes.yaml`` refers to.

Identity, so that renames and reordering are not reported as a removal plus an addition:

* an operation is its ``operationId`` (a new path is ``OP-PATH-CHANGED``);
* a parameter is (operation, ``in``, name; header names case-insensitive); order is ignored;
* a response is (operation, status); a header (operation, status, name case-insensitive);
* a body property is (schema name, property path; ``$ref`` to other body schemas followed);
* a requirement is its ID, wherever it stands (another file or section is ``REQ-MOVED``);
* error codes, profiles and schemas are their names;
* a change inside a shared component (``#/components/parameters|headers|responses/X``, used the
  same way on both sides) is reported once for the component, listing the operations using it.

:func:`rules_markdown` renders the documented rule table (the site's "Change rules" page).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from cps.diagnostics import ERROR, WARNING, Location, rule as _register_check_rule

SNAPSHOT_FORMAT = 4

BREAKING, NON_BREAKING, EDITORIAL = "breaking", "non-breaking", "editorial"
SEVERITIES = (BREAKING, NON_BREAKING, EDITORIAL)
LEVEL = {BREAKING: "error", NON_BREAKING: "warning", EDITORIAL: "info"}
BREAKS = ("servers", "clients", "both", "none")


# ---------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class ChangeRule:
    """One documented kind of change.

    ``breaks`` is ``servers``, ``clients``, ``both`` or ``none``, or ``subject`` / ``counterpart``
    for requirement rules: the party the requirement binds (its ``subject``) or the other party.
    """

    id: str
    severity: str
    breaks: str
    tags: tuple[str, ...]
    description: str
    example: str

    @property
    def level(self) -> str:
        return LEVEL[self.severity]


CHANGE_RULES: dict[str, ChangeRule] = {}


def _r(rid: str, severity: str, breaks: str, tags: str, description: str, example: str) -> None:
    assert rid not in CHANGE_RULES, rid
    CHANGE_RULES[rid] = ChangeRule(rid, severity, breaks, tuple(tags.split()), description, example)
    # Also list the rule in `cps rules` (the registry of stable codes).
    _register_check_rule(
        rid, rid.lower(), f"[cps diff, {severity}, breaks {breaks}] {description}",
        ERROR if severity == BREAKING else WARNING,
    )


# Operations
_r("OP-ADDED", NON_BREAKING, "none", "operation",
   "A new operation in a profile that is new in this version (or in none): nobody claimed it before.",
   "`ListObjectVersions` is added with the new `versioning` profile.")
_r("OP-ADDED-TO-PROFILE", BREAKING, "servers", "operation profile",
   "A new operation in a profile that already existed: every server claiming that profile must now implement it.",
   "`ListBuckets` is added to the `core` profile.")
_r("OP-REMOVED", BREAKING, "clients", "operation",
   "An operation is removed: clients that call it fail.", "`GetObjectAcl` is removed.")
_r("OP-PATH-CHANGED", BREAKING, "both", "operation",
   "An operation (same operationId) has a new path.", "`GetObject`: `/{Bucket}/{Key}` becomes `/{Bucket}/{Key+}`.")
_r("OP-METHOD-CHANGED", BREAKING, "both", "operation",
   "An operation (same operationId) has a new HTTP method.", "`DeleteObjects`: `POST` becomes `PUT`.")
_r("OP-SECURITY-ADDED", BREAKING, "servers", "operation security",
   "An operation accepts one more way to authenticate (an OpenAPI security alternative): servers must accept it.",
   "`PutObject` also accepts `sigv4Query` (presigned URLs).")
_r("OP-SECURITY-REMOVED", BREAKING, "clients", "operation security",
   "An operation no longer accepts a way to authenticate (`(anonymous)` when it no longer allows unauthenticated "
   "requests): clients using it fail.", "`GetObject` no longer accepts `sigv4Query`.")
_r("OP-PROFILE-WIDENED", BREAKING, "servers", "operation profile",
   "An operation moves to a profile that the old one builds on (more servers must implement it).",
   "`HeadBucket` moves from `buckets` to `core`.")
_r("OP-PROFILE-NARROWED", BREAKING, "clients", "operation profile",
   "An operation moves to a profile that builds on the old one (fewer servers offer it).",
   "`CopyObject` moves from `core` to `multipart`.")
_r("OP-PROFILE-CHANGED", BREAKING, "both", "operation profile",
   "An operation moves between two unrelated profiles.", "`PutBucketCors` moves from `cors` to `buckets`.")

# Request parameters (input: narrowing breaks clients, widening breaks servers)
_r("PARAM-ADDED", NON_BREAKING, "none", "parameter request",
   "A new optional request parameter or header. Obligations attached to it are reported as requirement changes.",
   "`GetObject` gains the optional query parameter `partNumber`.")
_r("PARAM-REQUIRED-ADDED", BREAKING, "clients", "parameter request",
   "A new required request parameter or header: clients that do not send it fail.",
   "`PutObject` gains the required header `Content-Length`.")
_r("PARAM-REMOVED", BREAKING, "clients", "parameter request",
   "A request parameter or header is removed: clients that send it are no longer conforming.",
   "`GetObject` loses the query parameter `response-expires`.")
_r("PARAM-BECAME-REQUIRED", BREAKING, "clients", "parameter request",
   "An optional request parameter becomes required.", "`Content-Length` on `PutObject` becomes required.")
_r("PARAM-BECAME-OPTIONAL", BREAKING, "servers", "parameter request",
   "A required request parameter becomes optional: servers must handle its absence.",
   "`x-amz-content-sha256` becomes optional.")

# Request bodies
_r("REQUEST-BODY-ADDED", NON_BREAKING, "none", "request body",
   "An operation accepts an optional request body it did not have.", "`DeleteObject` accepts an optional XML body.")
_r("REQUEST-BODY-REQUIRED-ADDED", BREAKING, "clients", "request body",
   "An operation requires a request body it did not have.", "`CreateBucket` requires a `CreateBucketConfiguration` body.")
_r("REQUEST-BODY-REMOVED", BREAKING, "clients", "request body",
   "An operation no longer accepts a request body.", "`CreateBucket` no longer takes a body.")
_r("REQUEST-BODY-BECAME-REQUIRED", BREAKING, "clients", "request body",
   "An optional request body becomes required.", "The `CreateBucketConfiguration` body becomes required.")
_r("REQUEST-BODY-BECAME-OPTIONAL", BREAKING, "servers", "request body",
   "A required request body becomes optional: servers must handle its absence.",
   "The `Delete` body of `DeleteObjects` becomes optional.")
_r("REQUEST-BODY-CHANGED", BREAKING, "both", "request body schema",
   "A request body has other media types or another schema.", "`CompleteMultipartUpload` takes `CompletedUpload` instead of `CompleteMultipartUpload`.")

# Request body properties
_r("REQUEST-PROPERTY-ADDED", NON_BREAKING, "none", "request body schema property",
   "A request body schema gains an optional element.", "`Delete` gains the optional element `Quiet`.")
_r("REQUEST-REQUIRED-PROPERTY-ADDED", BREAKING, "clients", "request body schema property",
   "A request body schema gains a required element: clients that omit it fail.", "`Part` gains the required element `ChecksumCRC32`.")
_r("REQUEST-PROPERTY-REMOVED", BREAKING, "clients", "request body schema property",
   "A request body schema loses an element: clients that send it are no longer conforming.", "`Delete` loses `Quiet`.")
_r("REQUEST-PROPERTY-BECAME-REQUIRED", BREAKING, "clients", "request body schema property",
   "An optional request body element becomes required.", "`Part.ETag` becomes required.")
_r("REQUEST-PROPERTY-BECAME-OPTIONAL", BREAKING, "servers", "request body schema property",
   "A required request body element becomes optional: servers must handle its absence.", "`Part.PartNumber` becomes optional.")

# Responses
_r("RESPONSE-STATUS-ADDED", BREAKING, "clients", "response status",
   "An operation may answer with a new status code: clients must handle it.", "`PutObject` may answer `409`.")
_r("RESPONSE-STATUS-REMOVED", BREAKING, "servers", "response status",
   "An operation may no longer answer with an error (or other non-2xx) status: servers that do are no longer conforming.",
   "`GetObject` no longer answers `416`.")
_r("RESPONSE-SUCCESS-STATUS-REMOVED", BREAKING, "both", "response status",
   "An operation loses a success (2xx) status: servers that send it and clients that rely on it break.",
   "`GetObject` no longer answers `206`.")
_r("RESPONSE-ERROR-CODE-ADDED", BREAKING, "clients", "response error",
   "A response (x-cps-errors) may carry a new S3 error code: clients must handle it.",
   "`GetObject` `400` may carry `InvalidArgument`.")
_r("RESPONSE-ERROR-CODE-REMOVED", BREAKING, "servers", "response error",
   "A response may no longer carry an S3 error code: servers that send it are no longer conforming.",
   "`PutObject` `400` no longer carries `InvalidDigest`.")
_r("RESPONSE-HEADER-ADDED", NON_BREAKING, "none", "response header",
   "A response gains an optional header.", "`GetObject` `200` may carry `x-amz-checksum-type`.")
_r("RESPONSE-REQUIRED-HEADER-ADDED", BREAKING, "servers", "response header",
   "A response gains a required header: servers must now send it.", "`PutObject` `200` must carry `ETag`.")
_r("RESPONSE-HEADER-REMOVED", NON_BREAKING, "none", "response header",
   "An optional response header is removed.", "`GetObject` `200` loses the optional `Expires`.")
_r("RESPONSE-REQUIRED-HEADER-REMOVED", BREAKING, "clients", "response header",
   "A required response header is removed: clients lose a guaranteed value.", "`HeadObject` `200` loses the required `ETag`.")
_r("RESPONSE-HEADER-BECAME-REQUIRED", BREAKING, "servers", "response header",
   "An optional response header becomes required: servers must now send it.", "`Last-Modified` on `GetObject` `200` becomes required.")
_r("RESPONSE-HEADER-BECAME-OPTIONAL", BREAKING, "clients", "response header",
   "A required response header becomes optional: clients lose a guaranteed value.", "`ETag` on `PutObject` `200` becomes optional.")
_r("RESPONSE-BODY-CHANGED", BREAKING, "both", "response body schema",
   "A response has other media types or another body schema.", "`ListObjectsV2` `200` returns `ListBucketResultV2` instead of `ListBucketResult`.")
_r("RESPONSE-PROPERTY-ADDED", NON_BREAKING, "none", "response body schema property",
   "A response body schema gains an optional element.", "`Error` gains the optional element `Resource`.")
_r("RESPONSE-REQUIRED-PROPERTY-ADDED", BREAKING, "servers", "response body schema property",
   "A response body schema gains a required element: servers must now send it.", "`Error` gains the required element `RequestId`.")
_r("RESPONSE-PROPERTY-REMOVED", NON_BREAKING, "none", "response body schema property",
   "An optional response body element is removed.", "`Error` loses the optional element `HostId`.")
_r("RESPONSE-REQUIRED-PROPERTY-REMOVED", BREAKING, "clients", "response body schema property",
   "A required response body element is removed: clients lose a guaranteed value.", "`ListBucketResult` loses the required `IsTruncated`.")
_r("RESPONSE-PROPERTY-BECAME-REQUIRED", BREAKING, "servers", "response body schema property",
   "An optional response body element becomes required: servers must now send it.", "`Error.Message` becomes required.")
_r("RESPONSE-PROPERTY-BECAME-OPTIONAL", BREAKING, "clients", "response body schema property",
   "A required response body element becomes optional: clients lose a guaranteed value.", "`Error.Code` becomes optional.")

# Value constraints, generated for the four places a value is defined.
_VALUE_PLACES = {
    # prefix: (what, direction, tags)
    "PARAM": ("a request parameter or header", "input", "parameter request"),
    "REQUEST-PROPERTY": ("a request body element", "input", "request body schema property"),
    "RESPONSE-HEADER": ("a response header", "output", "response header"),
    "RESPONSE-PROPERTY": ("a response body element", "output", "response body schema property"),
}
for _p, (_what, _dir, _tags) in _VALUE_PLACES.items():
    _narrow, _wide = ("clients", "servers") if _dir == "input" else ("servers", "clients")
    _who_n = "clients that send" if _dir == "input" else "servers that send"
    _who_w = "servers must accept" if _dir == "input" else "clients must accept"
    _r(f"{_p}-TYPE-CHANGED", BREAKING, "both", _tags + " type",
       f"The type, format or XML mapping of {_what} changes.", "`type: integer` becomes `type: string`.")
    _r(f"{_p}-ENUM-VALUE-ADDED", BREAKING, _wide, _tags + " enum",
       f"{_what[0].upper()}{_what[1:]} allows a new enumerated value: {_who_w} it.",
       "`x-amz-checksum-algorithm` allows `CRC64NVME`.")
    _r(f"{_p}-ENUM-VALUE-REMOVED", BREAKING, _narrow, _tags + " enum",
       f"{_what[0].upper()}{_what[1:]} no longer allows an enumerated value: {_who_n} it are no longer conforming.",
       "`x-amz-storage-class` no longer allows `GLACIER`.")
    _r(f"{_p}-PATTERN-CHANGED", BREAKING, "both", _tags + " pattern",
       f"The pattern of {_what} is replaced by another one.", "`pattern: ^[0-9]+$` becomes `pattern: ^[1-9][0-9]*$`.")
    _r(f"{_p}-LIMIT-NARROWED", BREAKING, _narrow, _tags + " limit",
       f"A limit of {_what} is tightened (maximum/maxLength/maxItems lowered or added, minimum/minLength/minItems "
       f"raised or added, a pattern or enum introduced): {_who_n} values outside it are no longer conforming.",
       "`max-keys` `maximum: 1000` becomes `maximum: 500`.")
    _r(f"{_p}-LIMIT-WIDENED", BREAKING, _wide, _tags + " limit",
       f"A limit of {_what} is relaxed (maximum raised or removed, minimum lowered or removed, pattern or enum "
       f"dropped): {_who_w} the new values.", "`partNumber` `maximum: 10000` becomes `maximum: 20000`.")

# Error table
_r("ERROR-CODE-ADDED", NON_BREAKING, "none", "error-table",
   "A new S3 error code in spec/errors.yaml (where it may be returned is reported per response).",
   "`InvalidStorageClass` is added.")
_r("ERROR-CODE-REMOVED", BREAKING, "servers", "error-table",
   "An S3 error code is removed from the error table: servers that return it are no longer conforming.",
   "`AccessForbidden` is removed.")
_r("ERROR-STATUS-CHANGED", BREAKING, "both", "error-table",
   "An error code is returned with another HTTP status.", "`InvalidRange` moves from `416` to `400`.")

# Profiles
_r("PROFILE-ADDED", NON_BREAKING, "none", "profile", "A new profile (conformance class).", "The `versioning` profile is added.")
_r("PROFILE-REMOVED", BREAKING, "both", "profile",
   "A profile is removed: claims of it and clients relying on it lose their meaning.", "The `cors` profile is removed.")
_r("PROFILE-REQUIRES-ADDED", BREAKING, "servers", "profile",
   "A profile builds on one more profile: servers claiming it must implement more.",
   "`presigned` now requires `multipart`.")
_r("PROFILE-REQUIRES-REMOVED", BREAKING, "clients", "profile",
   "A profile no longer builds on a profile: clients can no longer infer it.", "`cors` no longer requires `core`.")

# Requirements
_r("REQ-ADDED-MUST", BREAKING, "subject", "requirement",
   "A new absolute requirement (MUST, MUST NOT, REQUIRED, SHALL, SHALL NOT) in a profile that already existed: "
   "it breaks the party it binds.",
   "`[CPS-OBJ-140] A server MUST ...` is added (breaks servers).")
_r("REQ-ADDED-SHOULD", NON_BREAKING, "none", "requirement",
   "A new recommendation (SHOULD, SHOULD NOT, RECOMMENDED, NOT RECOMMENDED).", "`[CPS-OBJ-141] A server SHOULD ...` is added.")
_r("REQ-ADDED-MAY", NON_BREAKING, "none", "requirement",
   "A new permission (MAY, OPTIONAL). Review it: a server MAY widens what clients can receive.",
   "`[CPS-OBJ-142] A server MAY ...` is added.")
_r("REQ-ADDED-IN-NEW-PROFILE", NON_BREAKING, "none", "requirement profile",
   "A new requirement (any keyword) of a profile that is new in this version: nobody claimed the profile before.",
   "`[CPS-VER-001]{profile=versioning} A server MUST ...` comes with the new `versioning` profile.")
_r("REQ-REMOVED-MUST", BREAKING, "counterpart", "requirement",
   "An absolute requirement is removed: the other party can no longer rely on it.",
   "A server MUST is removed (breaks clients).")
_r("REQ-REMOVED-SHOULD", NON_BREAKING, "none", "requirement", "A recommendation is removed.", "A server SHOULD is removed.")
_r("REQ-REMOVED-MAY", NON_BREAKING, "none", "requirement", "A permission is removed.", "A server MAY is removed.")
_r("REQ-ID-NOT-RETIRED", NON_BREAKING, "none", "requirement process",
   "A requirement was removed but its ID is not listed in `retired_ids` of spec/cps.yaml (IDs are permanent).",
   "`CPS-OBJ-007` disappears and is not retired.")
_r("REQ-ID-UNRETIRED", NON_BREAKING, "none", "requirement process",
   "An ID disappears from `retired_ids`, possibly to be used again (retired IDs stay reserved forever).",
   "`CPS-OBJ-009` is dropped from `retired_ids`.")
_r("REQ-KEYWORD-STRENGTHENED", BREAKING, "subject", "requirement keyword",
   "A requirement's keyword becomes absolute (MAY or SHOULD to MUST; SHOULD NOT to MUST NOT).",
   "`SHOULD` becomes `MUST`.")
_r("REQ-KEYWORD-RECOMMENDED", NON_BREAKING, "none", "requirement keyword",
   "A permission becomes a recommendation (MAY to SHOULD or SHOULD NOT).", "`MAY` becomes `SHOULD`.")
_r("REQ-KEYWORD-WEAKENED", BREAKING, "counterpart", "requirement keyword",
   "An absolute requirement is weakened (MUST to SHOULD or MAY; MUST NOT to SHOULD NOT or MAY): the other party can no longer rely on it.",
   "`MUST` becomes `SHOULD`.")
_r("REQ-KEYWORD-SOFTENED", NON_BREAKING, "none", "requirement keyword",
   "A recommendation becomes a permission (SHOULD or SHOULD NOT to MAY).", "`SHOULD` becomes `MAY`.")
_r("REQ-KEYWORD-INVERTED", BREAKING, "both", "requirement keyword",
   "A requirement's keyword changes polarity (MUST to MUST NOT, SHOULD to SHOULD NOT, ...).", "`MUST` becomes `MUST NOT`.")
_r("REQ-REWORDED", EDITORIAL, "none", "requirement text",
   "A requirement's text changes beyond whitespace with the same keyword strength (a synonym such as MUST/SHALL counts as the same). "
   "Editorial, but reported so reviewers read the new wording.",
   "`... with status 404` becomes `... with the status 404`.")
_r("REQ-MOVED", EDITORIAL, "none", "requirement location",
   "A requirement (same ID) moves to another file or section.", "`CPS-OBJ-012` moves from `07-objects#op-GetObject` to `07-objects#conditional-reads`.")
_r("REQ-VERIFICATION-CHANGED", EDITORIAL, "none", "requirement verification",
   "How a requirement is verified changes (test or inspection).", "`verify=test` becomes `verify=inspection`.")
_r("REQ-SUBJECT-CHANGED", BREAKING, "both", "requirement subject",
   "An absolute requirement (MUST-level before or after) binds the other party (server to client or back).",
   "`subject=server` becomes `subject=client`.")
_r("REQ-RECOMMENDATION-SUBJECT-CHANGED", NON_BREAKING, "none", "requirement subject",
   "A recommendation or permission (SHOULD, MAY, ... before and after) addresses the other party.",
   "A server SHOULD becomes a client SHOULD.")
_r("REQ-PROFILE-WIDENED", BREAKING, "subject", "requirement profile",
   "An absolute requirement moves to a profile the old one builds on: more implementations are bound by it.",
   "A server MUST moves from `multipart` to `core` (breaks servers).")
_r("REQ-PROFILE-NARROWED", BREAKING, "counterpart", "requirement profile",
   "An absolute requirement moves to a profile that builds on the old one: fewer implementations are bound by it.",
   "A server MUST moves from `core` to `multipart` (breaks clients).")
_r("REQ-PROFILE-CHANGED", BREAKING, "both", "requirement profile",
   "An absolute requirement moves between two unrelated profiles.", "A server MUST moves from `cors` to `presigned`.")
_r("REQ-RECOMMENDATION-PROFILE-CHANGED", NON_BREAKING, "none", "requirement profile",
   "A recommendation or permission (SHOULD, MAY, ...) moves to another profile.", "A server SHOULD moves from `core` to `cors`.")

# Body schemas
_r("SCHEMA-ADDED", NON_BREAKING, "none", "schema", "A new body schema in schemas/bodies/.", "`ListAllMyBucketsResult.yaml` is added.")
_r("SCHEMA-REMOVED", NON_BREAKING, "none", "schema",
   "A body schema is removed from schemas/bodies/ (the operations that used it report their own changes).",
   "`CopyPartResult.yaml` is removed.")


# ---------------------------------------------------------------------------------- changes


@dataclass
class Change:
    rule: str
    severity: str
    breaks: str
    subject: dict[str, str]  # stable identifiers, e.g. {"operation": "GetObject", "parameter": "query partNumber"}
    old: Any
    new: Any
    message: str
    old_location: Location | None = None
    new_location: Location | None = None
    anchor: Location | None = None  # where to annotate in the new version (for removals: the enclosing element)
    fingerprint: str = ""
    accepted: dict[str, Any] | None = None

    def sort_key(self):
        return (SEVERITIES.index(self.severity), self.rule, json.dumps(self.subject, sort_keys=True), self.fingerprint)

    def to_json(self) -> dict[str, Any]:
        rule = CHANGE_RULES[self.rule]
        return {
            "rule": self.rule,
            "severity": self.severity,
            "level": rule.level,
            "breaks": self.breaks,
            "tags": list(rule.tags),
            "subject": dict(self.subject),
            "old": self.old,
            "new": self.new,
            "message": self.message,
            "old_location": _loc_json(self.old_location),
            "new_location": _loc_json(self.new_location),
            "fingerprint": self.fingerprint,
            "accepted": self.accepted is not None,
            "accepted_reason": (self.accepted or {}).get("reason"),
            "accepted_by": (self.accepted or {}).get("accepted_by"),
        }


def _loc_json(loc: Location | None) -> dict[str, Any] | None:
    return None if loc is None else {"path": loc.path, "line": loc.line, "col": loc.col}


def fingerprint(rule_id: str, subject: dict[str, str], old: Any, new: Any) -> str:
    """Stable identity of a change: sha256 over the rule ID, the subject identifiers and the old
    and new values (never line numbers), as canonical JSON; the first 16 hex digits."""
    payload = json.dumps([rule_id, subject, old, new], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _loc(v: Any) -> Location | None:
    return Location(v[0], v[1], v[2]) if v else None


class _Collector:
    """Collects changes. A change of a shared OpenAPI component (``#/components/parameters/X``,
    ``headers/X``, ``responses/X``) is reported once, naming the operations that use it: its
    subject names the component instead of the operation, so every use has the same
    fingerprint."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self._by_fp: dict[str, tuple[Change, list[str]]] = {}

    def add(self, rule_id: str, subject: dict[str, str], old: Any, new: Any, message: str,
            old_loc: Any = None, new_loc: Any = None, anchor: Any = None, breaks: str | None = None,
            op: str | None = None) -> None:
        rule = CHANGE_RULES[rule_id]
        b = breaks or rule.breaks
        assert b in BREAKS, (rule_id, b)
        fp = fingerprint(rule_id, subject, old, new)
        if fp in self._by_fp:
            if op is not None and op not in self._by_fp[fp][1]:
                self._by_fp[fp][1].append(op)
            return
        ol, nl = _loc(old_loc), _loc(new_loc)
        ch = Change(rule_id, rule.severity, b, subject, old, new, message, ol, nl, nl or _loc(anchor) or ol, fp)
        self.changes.append(ch)
        self._by_fp[fp] = (ch, [op] if op is not None else [])

    def finish(self) -> list[Change]:
        for ch, ops in self._by_fp.values():
            if "component" in ch.subject and ops:
                shown = ", ".join(sorted(ops)[:8]) + (", …" if len(ops) > 8 else "")
                ch.message += f" (used by {len(ops)} operation{'s' if len(ops) != 1 else ''}: {shown})"
        return sorted(self.changes, key=Change.sort_key)


# ---------------------------------------------------------------------------------- snapshot


_FACT_KEYS = ("type", "format", "xml")
_MIN_LIMITS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_MAX_LIMITS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


def _facts(schema: Any, items: bool = True) -> dict[str, Any]:
    """The comparable constraints of a value schema (parameter, header or body element); with
    ``items``, those of array items too (body schemas walk their items as elements instead)."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    t = schema.get("type")
    if t is not None:
        out["type"] = sorted(t) if isinstance(t, list) else t
    if schema.get("format") is not None:
        out["format"] = schema["format"]
    xml = schema.get("xml")
    if isinstance(xml, dict) and xml:
        out["xml"] = {k: xml[k] for k in sorted(xml) if k in ("name", "attribute", "wrapped", "namespace", "prefix")}
    if "enum" in schema and isinstance(schema["enum"], list):
        out["enum"] = list(schema["enum"])
    elif "const" in schema:
        out["enum"] = [schema["const"]]
    if isinstance(schema.get("pattern"), str):
        out["pattern"] = schema["pattern"]
    for k in (*_MIN_LIMITS, *_MAX_LIMITS):
        v = schema.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = v
    sub_items = schema.get("items")
    if items and isinstance(sub_items, dict):
        sub = _facts(sub_items)
        if sub:
            out["items"] = sub
    return out


def snapshot(spec) -> dict[str, Any]:
    """Reduce a :class:`cps.model.Spec` to plain comparable data (JSON-serialisable)."""
    from cps.loader import resolve_local
    from cps.yamlio import locate

    def yloc(yf_rel: str, node: Any, *path: Any) -> list:
        line, col = locate(node, path)
        return [yf_rel, line, col]

    def ml(loc: Location | None) -> list | None:
        return [loc.path, loc.line, loc.col] if loc else None

    snap: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "version": spec.version,
        "ops": {},
        "schemas": {},
        "errors": {c: {"status": e.status, "loc": ml(e.location)} for c, e in spec.errors.items()},
        "profiles": {p.id: {"requires": list(p.requires), "loc": ml(p.location)} for p in spec.profiles.values()},
        "reqs": {},
        "retired": dict(spec.retired_ids),
        "retired_loc": {},
        "docs": {d.name: d.rel for d in spec.documents},
        "problems": [f"{d.location}: {d.code} {d.message}" for d in spec.load_diagnostics
                     if d.code in ("YML001", "SRC001")],
    }
    doc = spec.openapi or {}
    oy = spec.openapi_yaml
    orel = spec.openapi_rel
    paths = doc.get("paths") if isinstance(doc.get("paths"), dict) else {}
    for op in spec.operations.values():
        item = paths.get(op.path) if isinstance(paths.get(op.path), dict) else {}
        m = op.method.lower()
        raw_params = [(("paths", op.path, "parameters", i), p) for i, p in enumerate(item.get("parameters") or [])]
        raw_params += [(("paths", op.path, m, "parameters", i), p) for i, p in enumerate(op.raw.get("parameters") or [])]
        params: dict[str, Any] = {}
        for ypath, raw in raw_params:
            p = resolve_local(doc, raw)
            if not isinstance(p, dict):
                continue
            name, where = str(p.get("name", "")), str(p.get("in", ""))
            key = f"{where} {name.lower() if where == 'header' else name}"
            comp = _component(raw)
            params[key] = {
                "name": name,
                "in": where,
                "required": bool(p.get("required", False)),
                "facts": _facts(resolve_local(doc, p.get("schema"))),
                "loc": yloc(orel, oy, *ypath),
                "comp": comp,
                "cloc": yloc(orel, oy, "components", *comp.split("/")) if comp else None,
            }
        body = None
        if op.request_body or op.raw.get("requestBody"):
            body = {
                "required": op.request_body_required,
                "media": dict(sorted(op.request_body.items())),
                "loc": yloc(orel, oy, "paths", op.path, m, "requestBody"),
            }
        responses = {}
        raw_responses = op.raw.get("responses") if isinstance(op.raw.get("responses"), dict) else {}
        for status, r in op.responses.items():
            raw_r = raw_responses.get(status, raw_responses.get(int(status)) if status.isdigit() else None)
            rcomp = _component(raw_r)
            raw_headers = (resolve_local(doc, raw_r) or {}).get("headers") if isinstance(resolve_local(doc, raw_r), dict) else None
            raw_headers = raw_headers if isinstance(raw_headers, dict) else {}
            if rcomp:
                hbase: tuple = ("components", *rcomp.split("/"), "headers")
            else:
                hbase = ("paths", op.path, m, "responses", status, "headers")
            headers = {}
            for hname, h in r.headers.items():
                hcomp = _component(raw_headers.get(hname))
                headers[hname.lower()] = {
                    "name": hname,
                    "required": bool(h.get("required", False)),
                    "facts": _facts(resolve_local(doc, h.get("schema"))),
                    "loc": yloc(orel, oy, *hbase, hname),
                    "comp": hcomp,
                    "cloc": yloc(orel, oy, "components", *hcomp.split("/")) if hcomp else None,
                }
            responses[status] = {
                "headers": headers,
                "media": dict(sorted(r.media_types.items())),
                "errors": sorted(set(r.errors)),
                "loc": ml(r.location),
                "comp": rcomp,
                "cloc": yloc(orel, oy, "components", *rcomp.split("/")) if rcomp else None,
            }
        snap["ops"][op.id] = {
            "method": op.method,
            "path": op.path,
            "profile": str(op.profile) if op.profile is not None else None,
            "security": _security(op.raw.get("security", doc.get("security"))),
            "loc": ml(op.location),
            "params": params,
            "body": body,
            "responses": responses,
        }
    meta = spec.yaml_files.get("spec/cps.yaml")
    if meta is not None:
        snap["retired_loc"] = {rid: ml(meta.loc("retired_ids", rid)) for rid in spec.retired_ids}
    for name in spec.schemas:
        snap["schemas"][name] = {"loc": ml(spec.schemas[name].location), "props": _flatten(spec, name)}
    for r in spec.requirements:
        if r.id in snap["reqs"]:
            continue  # duplicate IDs are a `cps check` error; the first one counts
        snap["reqs"][r.id] = {
            "keyword": r.keyword,
            "text": _norm_text(r.text),
            "profile": r.profile,
            "subject": r.subject,
            "verify": r.verify,
            "doc": r.doc,
            "section": r.section,
            "section_title": r.section_title,
            "loc": ml(r.location),
        }
    return snap


def _security(alternatives: Any) -> list[str]:
    """Security alternatives as sorted names (``sigv4``, ``a+b`` for both at once,
    ``(anonymous)`` for ``{}`` or when none is stated)."""
    out = set()
    for alt in alternatives if isinstance(alternatives, list) else []:
        if isinstance(alt, dict):
            out.add("+".join(sorted(str(k) for k in alt)) or "(anonymous)")
    return sorted(out) or ["(anonymous)"]


def _component(raw: Any) -> str | None:
    """``parameters/Bucket`` for ``$ref: '#/components/parameters/Bucket'``, else None."""
    if isinstance(raw, dict) and isinstance(raw.get("$ref"), str) and raw["$ref"].startswith("#/components/"):
        return raw["$ref"][len("#/components/"):]
    return None


def _norm_text(text: str) -> str:
    return " ".join(text.split())


_REF_FILE_RE = re.compile(r"^(?:\./)?(?:.*/)?(?P<stem>[^/#]+)\.(?:ya?ml|json)$")


def _flatten(spec, root_name: str) -> dict[str, Any]:
    """Every element of a body schema as ``path -> {required, facts, loc}``, $refs followed."""
    from cps.yamlio import locate

    out: dict[str, Any] = {}

    def resolve(cur: str, node: Any, ynode: Any, depth: int):
        # Follow $ref (to another body schema file, a $defs entry or the OpenAPI components).
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 32:
            ref = node["$ref"]
            depth += 1
            file_part, _, frag = ref.partition("#")
            target = cur
            if file_part:
                m = _REF_FILE_RE.match(file_part)
                if not m or m.group("stem") not in spec.schemas:
                    return cur, node, ynode
                target = m.group("stem")
            elif frag.startswith("/components/schemas/"):
                target = frag.rsplit("/", 1)[1]
                frag = ""
                if target not in spec.schemas:
                    return cur, node, ynode
            s = spec.schemas[target]
            n, yn = s.data, s.yaml
            for part in [p for p in frag.split("/") if p]:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(n, dict) or part not in n:
                    return cur, node, ynode
                n = n[part]
                try:
                    yn = yn[part]
                except (KeyError, TypeError, IndexError):
                    yn = None
            cur, node, ynode = target, n, yn
        return cur, node, ynode

    def walk(cur: str, node: Any, ynode: Any, path: str, required: bool | None, loc: list, stack: tuple):
        cur, node, ynode = resolve(cur, node, ynode, 0)
        if not isinstance(node, dict):
            return
        out[path] = {"required": required, "facts": _facts(node, items=False), "loc": loc}
        key = (cur, id(node))
        if key in stack or len(stack) > 24:
            return
        stack = stack + (key,)
        rel = spec.schemas[cur].rel
        props: list[tuple[str, Any, str, Any, bool, str]] = []
        subs = [(cur, node, ynode)]
        for comb in ("allOf", "oneOf", "anyOf"):
            for i, sub in enumerate(node.get(comb) or []):
                subs.append(resolve(cur, sub, _child(_child(ynode, comb), i), 0))
        req: set[str] = set()  # allOf parts may list as required what another part defines
        for _, sub, _ in subs:
            if isinstance(sub, dict) and isinstance(sub.get("required"), list):
                req.update(str(x) for x in sub["required"])
        for scur, sub, sy in subs:
            if not isinstance(sub, dict) or not isinstance(sub.get("properties"), dict):
                continue
            for pname, pnode in sub["properties"].items():
                props.append((pname, pnode, scur, sy, pname in req, spec.schemas[scur].rel))
        seen = set()
        for pname, pnode, scur, sy, preq, prel in props:
            if pname in seen:
                continue
            seen.add(pname)
            ploc = [prel, *locate(sy, ["properties", pname])] if sy is not None else loc
            walk(scur, pnode, _child(_child(sy, "properties"), pname), f"{path}.{pname}", preq, ploc, stack)
        items = node.get("items")
        if isinstance(items, dict):
            iy = _child(ynode, "items")
            iloc = [rel, *locate(ynode, ["items"])] if iy is not None else loc
            walk(cur, items, iy, f"{path}[]", None, iloc, stack)

    s = spec.schemas[root_name]
    walk(root_name, s.data, s.yaml, root_name, None, [s.rel, s.location.line, s.location.col], ())
    return out


def _child(ynode: Any, key: Any) -> Any:
    try:
        return ynode[key] if ynode is not None else None
    except (KeyError, TypeError, IndexError):
        return None


# ---------------------------------------------------------------------------------- comparison

# (polarity, strength): MAY/OPTIONAL are neutral permissions.
_KEYWORDS = {
    "MUST": (1, 2), "REQUIRED": (1, 2), "SHALL": (1, 2),
    "MUST NOT": (-1, 2), "SHALL NOT": (-1, 2),
    "SHOULD": (1, 1), "RECOMMENDED": (1, 1),
    "SHOULD NOT": (-1, 1), "NOT RECOMMENDED": (-1, 1),
    "MAY": (0, 0), "OPTIONAL": (0, 0),
}
_PARTY = {"server": "servers", "client": "clients"}
_OTHER = {"server": "clients", "client": "servers"}


def _kw(word: str | None) -> tuple[int, int]:
    return _KEYWORDS.get(word or "", (0, 0))


def _closure(profiles: dict[str, Any], pid: str | None) -> set[str]:
    seen: set[str] = set()
    todo = [pid] if pid else []
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend((profiles.get(p) or {}).get("requires") or [])
    return seen


def _profile_move(profiles: dict[str, Any], old: str | None, new: str | None) -> str:
    """'widened' when the new profile is one the old builds on (more implementations bound),
    'narrowed' when the new one builds on the old, 'changed' otherwise."""
    if new in _closure(profiles, old):
        return "widened"
    if old in _closure(profiles, new):
        return "narrowed"
    return "changed"


def _fmt(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every change from snapshot ``old`` to snapshot ``new``, sorted."""
    c = _Collector()
    _compare_ops(c, old, new)
    _compare_bodies(c, old, new)
    _compare_errors(c, old, new)
    _compare_profiles(c, old, new)
    _compare_reqs(c, old, new)
    return c.finish()


def _compare_values(c: _Collector, prefix: str, subject: dict[str, str], label: str,
                    of: dict[str, Any], nf: dict[str, Any], ol: Any, nl: Any, check_type: bool = True,
                    op: str | None = None) -> None:
    """Constraints of one value (parameter, header or body element)."""
    def typ(f):
        return {k: f.get(k) for k in _FACT_KEYS if k in f} | ({"items": typ(f["items"])} if "items" in f else {})

    if check_type and typ(of) != typ(nf):
        c.add(f"{prefix}-TYPE-CHANGED", subject, typ(of), typ(nf),
              f"{label}: type changes from {_fmt(typ(of))} to {_fmt(typ(nf))}", ol, nl, op=op)
    oe, ne = of.get("enum"), nf.get("enum")
    if oe is not None and ne is not None:
        for v in ne:
            if v not in oe:
                c.add(f"{prefix}-ENUM-VALUE-ADDED", subject | {"value": _fmt(v)}, None, v,
                      f"{label}: allows the new value {_fmt(v)}", ol, nl, op=op)
        for v in oe:
            if v not in ne:
                c.add(f"{prefix}-ENUM-VALUE-REMOVED", subject | {"value": _fmt(v)}, v, None,
                      f"{label}: no longer allows the value {_fmt(v)}", ol, nl, op=op)
    elif oe is None and ne is not None:
        c.add(f"{prefix}-LIMIT-NARROWED", subject | {"limit": "enum"}, None, ne,
              f"{label}: now restricted to the values {_fmt(ne)}", ol, nl, op=op)
    elif oe is not None and ne is None:
        c.add(f"{prefix}-LIMIT-WIDENED", subject | {"limit": "enum"}, oe, None,
              f"{label}: no longer restricted to the values {_fmt(oe)}", ol, nl, op=op)
    op_, np_ = of.get("pattern"), nf.get("pattern")
    if op_ != np_:
        if op_ is None:
            c.add(f"{prefix}-LIMIT-NARROWED", subject | {"limit": "pattern"}, None, np_,
                  f"{label}: must now match the pattern {np_}", ol, nl, op=op)
        elif np_ is None:
            c.add(f"{prefix}-LIMIT-WIDENED", subject | {"limit": "pattern"}, op_, None,
                  f"{label}: no longer has to match the pattern {op_}", ol, nl, op=op)
        else:
            c.add(f"{prefix}-PATTERN-CHANGED", subject, op_, np_,
                  f"{label}: pattern changes from {op_} to {np_}", ol, nl, op=op)
    for k in (*_MIN_LIMITS, *_MAX_LIMITS):
        ov, nv = of.get(k), nf.get(k)
        if ov == nv:
            continue
        is_min = k in _MIN_LIMITS
        if ov is None:
            narrowed = True
        elif nv is None:
            narrowed = False
        else:
            narrowed = (nv > ov) if is_min else (nv < ov)
        what = (f"added ({_fmt(nv)})" if ov is None else f"removed (was {_fmt(ov)})" if nv is None
                else f"changed from {_fmt(ov)} to {_fmt(nv)}")
        rid = f"{prefix}-LIMIT-{'NARROWED' if narrowed else 'WIDENED'}"
        c.add(rid, subject | {"limit": k}, ov, nv, f"{label}: {k} {what}", ol, nl, op=op)
    # Arrays of values: compare the item constraints too (enum/limits of items).
    if "items" in of and "items" in nf:
        _compare_values(c, prefix, subject | {"items": "[]"}, f"{label} (items)", of["items"], nf["items"], ol, nl,
                        check_type=False, op=op)


def _compare_ops(c: _Collector, old: dict, new: dict) -> None:
    profiles = new["profiles"] or old["profiles"]
    for oid in sorted(set(old["ops"]) | set(new["ops"])):
        o, n = old["ops"].get(oid), new["ops"].get(oid)
        subj = {"operation": oid}
        if o is None:
            existing = n["profile"] is not None and n["profile"] in old["profiles"]
            c.add("OP-ADDED-TO-PROFILE" if existing else "OP-ADDED", subj | {"profile": str(n["profile"])}, None,
                  f"{n['method']} {n['path']}",
                  f"operation {oid} ({n['method']} {n['path']}) is added to "
                  f"{'the existing' if existing else 'the new'} profile {n['profile']}", None, n["loc"])
            continue
        if n is None:
            c.add("OP-REMOVED", subj, f"{o['method']} {o['path']}", None,
                  f"operation {oid} ({o['method']} {o['path']}) is removed", o["loc"], None)
            continue
        ol, nl = o["loc"], n["loc"]
        if o["path"] != n["path"]:
            c.add("OP-PATH-CHANGED", subj, o["path"], n["path"],
                  f"{oid}: path changes from {o['path']} to {n['path']}", ol, nl)
        if o["method"] != n["method"]:
            c.add("OP-METHOD-CHANGED", subj, o["method"], n["method"],
                  f"{oid}: method changes from {o['method']} to {n['method']}", ol, nl)
        for alt in n.get("security", []):
            if alt not in o.get("security", []):
                c.add("OP-SECURITY-ADDED", subj | {"security": alt}, None, alt,
                      f"{oid}: accepts the authentication {alt}", ol, nl)
        for alt in o.get("security", []):
            if alt not in n.get("security", []):
                c.add("OP-SECURITY-REMOVED", subj | {"security": alt}, alt, None,
                      f"{oid}: no longer accepts the authentication {alt}", ol, nl)
        if o["profile"] != n["profile"]:
            move = _profile_move(profiles, o["profile"], n["profile"])
            c.add(f"OP-PROFILE-{move.upper()}", subj, o["profile"], n["profile"],
                  f"{oid}: moves from profile {o['profile']} to {n['profile']}", ol, nl)
        # Parameters (order is irrelevant; identity is location + name)
        for key in sorted(set(o["params"]) | set(n["params"])):
            op_, np_ = o["params"].get(key), n["params"].get(key)
            psub = subj | {"parameter": key}
            if op_ is None:
                rid = "PARAM-REQUIRED-ADDED" if np_["required"] else "PARAM-ADDED"
                c.add(rid, psub, None, {"required": np_["required"]},
                      f"{oid}: {'required' if np_['required'] else 'optional'} {np_['in']} parameter `{np_['name']}` is added",
                      ol, np_["loc"])
                continue
            if np_ is None:
                c.add("PARAM-REMOVED", psub, {"required": op_["required"]}, None,
                      f"{oid}: {op_['in']} parameter `{op_['name']}` is removed", op_["loc"], None, anchor=nl)
                continue
            pol, pnl = op_["loc"], np_["loc"]
            label = f"{oid}: {np_['in']} parameter `{np_['name']}`"
            if op_.get("comp") and op_.get("comp") == np_.get("comp"):  # a shared component: report it once
                psub = {"component": np_["comp"], "parameter": key}
                pol, pnl = op_["cloc"], np_["cloc"]
                label = f"{np_['in']} parameter `{np_['name']}` (#/components/{np_['comp']})"
            if op_["required"] != np_["required"]:
                rid = "PARAM-BECAME-REQUIRED" if np_["required"] else "PARAM-BECAME-OPTIONAL"
                c.add(rid, psub, op_["required"], np_["required"],
                      f"{label} becomes {'required' if np_['required'] else 'optional'}", pol, pnl, op=oid)
            _compare_values(c, "PARAM", psub, label, op_["facts"], np_["facts"], pol, pnl, op=oid)
        # Request body
        ob, nb = o["body"], n["body"]
        bsub = subj | {"body": "request"}
        if ob is None and nb is not None:
            rid = "REQUEST-BODY-REQUIRED-ADDED" if nb["required"] else "REQUEST-BODY-ADDED"
            c.add(rid, bsub, None, nb["media"], f"{oid}: accepts a {'required' if nb['required'] else 'optional'} request body "
                  f"({', '.join(f'{k}: {v}' for k, v in nb['media'].items())})", ol, nb["loc"])
        elif ob is not None and nb is None:
            c.add("REQUEST-BODY-REMOVED", bsub, ob["media"], None, f"{oid}: no longer accepts a request body",
                  ob["loc"], None, anchor=nl)
        elif ob is not None and nb is not None:
            if ob["required"] != nb["required"]:
                rid = "REQUEST-BODY-BECAME-REQUIRED" if nb["required"] else "REQUEST-BODY-BECAME-OPTIONAL"
                c.add(rid, bsub, ob["required"], nb["required"],
                      f"{oid}: the request body becomes {'required' if nb['required'] else 'optional'}", ob["loc"], nb["loc"])
            if ob["media"] != nb["media"]:
                c.add("REQUEST-BODY-CHANGED", bsub, ob["media"], nb["media"],
                      f"{oid}: request body changes from {_fmt(ob['media'])} to {_fmt(nb['media'])}", ob["loc"], nb["loc"])
        # Responses
        for st in sorted(set(o["responses"]) | set(n["responses"])):
            orr, nr = o["responses"].get(st), n["responses"].get(st)
            rsub = subj | {"status": st}
            if orr is None:
                extra = f" (error codes {', '.join(nr['errors'])})" if nr["errors"] else ""
                c.add("RESPONSE-STATUS-ADDED", rsub, None, nr["errors"] or None,
                      f"{oid}: may answer with status {st}{extra}", ol, nr["loc"])
                continue
            if nr is None:
                rid = "RESPONSE-SUCCESS-STATUS-REMOVED" if st.startswith("2") else "RESPONSE-STATUS-REMOVED"
                c.add(rid, rsub, orr["errors"] or None, None, f"{oid}: no longer answers with status {st}",
                      orr["loc"], None, anchor=nl)
                continue
            # Inside a shared response (#/components/responses/X) a change is reported once.
            shared = orr.get("comp") and orr.get("comp") == nr.get("comp")
            if shared:
                rsub = {"component": nr["comp"], "status": st}
                rol, rnl = orr["cloc"], nr["cloc"]
                where = f"status {st} (#/components/{nr['comp']})"
            else:
                rol, rnl = orr["loc"], nr["loc"]
                where = f"{oid}: status {st}"
            for code in nr["errors"]:
                if code not in orr["errors"]:
                    c.add("RESPONSE-ERROR-CODE-ADDED", rsub | {"error": code}, None, code,
                          f"{where} may carry the error code {code}", rol, rnl, op=oid)
            for code in orr["errors"]:
                if code not in nr["errors"]:
                    c.add("RESPONSE-ERROR-CODE-REMOVED", rsub | {"error": code}, code, None,
                          f"{where} no longer carries the error code {code}", rol, rnl, op=oid)
            if orr["media"] != nr["media"]:
                c.add("RESPONSE-BODY-CHANGED", rsub, orr["media"], nr["media"],
                      f"{where}: the response body changes from {_fmt(orr['media'])} to {_fmt(nr['media'])}",
                      rol, rnl, op=oid)
            for h in sorted(set(orr["headers"]) | set(nr["headers"])):
                oh, nh = orr["headers"].get(h), nr["headers"].get(h)
                hsub = rsub | {"header": h}
                if oh is None:
                    rid = "RESPONSE-REQUIRED-HEADER-ADDED" if nh["required"] else "RESPONSE-HEADER-ADDED"
                    c.add(rid, hsub, None, {"required": nh["required"]},
                          f"{where} gains the {'required' if nh['required'] else 'optional'} header `{nh['name']}`",
                          rol, nh["loc"], op=oid)
                    continue
                if nh is None:
                    rid = "RESPONSE-REQUIRED-HEADER-REMOVED" if oh["required"] else "RESPONSE-HEADER-REMOVED"
                    c.add(rid, hsub, {"required": oh["required"]}, None,
                          f"{where} loses the {'required' if oh['required'] else 'optional'} header `{oh['name']}`",
                          oh["loc"], None, anchor=rnl, op=oid)
                    continue
                hol, hnl = oh["loc"], nh["loc"]
                label = f"{where} header `{nh['name']}`"
                if oh.get("comp") and oh.get("comp") == nh.get("comp"):
                    hsub = {"component": nh["comp"], "header": h}
                    hol, hnl = oh["cloc"], nh["cloc"]
                    label = f"response header `{nh['name']}` (#/components/{nh['comp']})"
                if oh["required"] != nh["required"]:
                    rid = "RESPONSE-HEADER-BECAME-REQUIRED" if nh["required"] else "RESPONSE-HEADER-BECAME-OPTIONAL"
                    c.add(rid, hsub, oh["required"], nh["required"],
                          f"{label} becomes {'required' if nh['required'] else 'optional'}", hol, hnl, op=oid)
                _compare_values(c, "RESPONSE-HEADER", hsub, label, oh["facts"], nh["facts"], hol, hnl, op=oid)


def _usage(snap: dict) -> dict[str, set[str]]:
    use: dict[str, set[str]] = {}
    for op in snap["ops"].values():
        if op["body"]:
            for s in op["body"]["media"].values():
                if s:
                    use.setdefault(s, set()).add("request")
        for r in op["responses"].values():
            for s in r["media"].values():
                if s:
                    use.setdefault(s, set()).add("response")
    return use


def _compare_bodies(c: _Collector, old: dict, new: dict) -> None:
    for name in sorted(set(old["schemas"]) | set(new["schemas"])):
        os_, ns = old["schemas"].get(name), new["schemas"].get(name)
        if os_ is None:
            c.add("SCHEMA-ADDED", {"schema": name}, None, name, f"body schema {name} is added", None, ns["loc"])
        elif ns is None:
            c.add("SCHEMA-REMOVED", {"schema": name}, name, None, f"body schema {name} is removed", os_["loc"], None)
    ou, nu = _usage(old), _usage(new)
    for name in sorted(set(old["schemas"]) & set(new["schemas"])):
        op_, np_ = old["schemas"][name]["props"], new["schemas"][name]["props"]
        for ctx in sorted(ou.get(name, set()) & nu.get(name, set())):
            side = "REQUEST" if ctx == "request" else "RESPONSE"
            for path in sorted(set(op_) | set(np_), key=lambda p: (p.count("."), p)):
                o, n = op_.get(path), np_.get(path)
                sub = {"schema": name, "property": path, "context": ctx}
                if (o is None or n is None) and path.endswith("[]"):
                    continue  # array items come and go with their array (a type change of the parent)
                if o is None:
                    parent = path.rsplit(".", 1)[0] if "." in path else None
                    if parent is not None and parent not in op_:
                        continue  # reported with its parent
                    req = bool(n["required"])
                    rid = f"{side}-REQUIRED-PROPERTY-ADDED" if req else f"{side}-PROPERTY-ADDED"
                    c.add(rid, sub, None, {"required": req}, f"{ctx} body {name}: {'required' if req else 'optional'} "
                          f"element `{path}` is added", None, n["loc"], anchor=new["schemas"][name]["loc"])
                    continue
                if n is None:
                    parent = path.rsplit(".", 1)[0] if "." in path else None
                    if parent is not None and parent not in np_:
                        continue
                    req = bool(o["required"])
                    if side == "REQUEST":
                        rid = "REQUEST-PROPERTY-REMOVED"
                    else:
                        rid = "RESPONSE-REQUIRED-PROPERTY-REMOVED" if req else "RESPONSE-PROPERTY-REMOVED"
                    c.add(rid, sub, {"required": req}, None, f"{ctx} body {name}: "
                          f"{'required' if req else 'optional'} element `{path}` is removed", o["loc"], None,
                          anchor=new["schemas"][name]["loc"])
                    continue
                label = f"{ctx} body {name}: element `{path}`"
                if o["required"] is not None and n["required"] is not None and o["required"] != n["required"]:
                    rid = f"{side}-PROPERTY-BECAME-{'REQUIRED' if n['required'] else 'OPTIONAL'}"
                    c.add(rid, sub, o["required"], n["required"],
                          f"{label} becomes {'required' if n['required'] else 'optional'}", o["loc"], n["loc"])
                _compare_values(c, f"{side}-PROPERTY", sub, label, o["facts"], n["facts"], o["loc"], n["loc"])


def _compare_errors(c: _Collector, old: dict, new: dict) -> None:
    for code in sorted(set(old["errors"]) | set(new["errors"])):
        o, n = old["errors"].get(code), new["errors"].get(code)
        sub = {"error": code}
        if o is None:
            c.add("ERROR-CODE-ADDED", sub, None, n["status"], f"error code {code} ({n['status']}) is added", None, n["loc"])
        elif n is None:
            c.add("ERROR-CODE-REMOVED", sub, o["status"], None, f"error code {code} ({o['status']}) is removed", o["loc"], None)
        elif o["status"] != n["status"]:
            c.add("ERROR-STATUS-CHANGED", sub, o["status"], n["status"],
                  f"error code {code}: status changes from {o['status']} to {n['status']}", o["loc"], n["loc"])


def _compare_profiles(c: _Collector, old: dict, new: dict) -> None:
    for pid in sorted(set(old["profiles"]) | set(new["profiles"])):
        o, n = old["profiles"].get(pid), new["profiles"].get(pid)
        sub = {"profile": pid}
        if o is None:
            c.add("PROFILE-ADDED", sub, None, n["requires"], f"profile {pid} is added", None, n["loc"])
            continue
        if n is None:
            c.add("PROFILE-REMOVED", sub, o["requires"], None, f"profile {pid} is removed", o["loc"], None)
            continue
        for req in n["requires"]:
            if req not in o["requires"]:
                c.add("PROFILE-REQUIRES-ADDED", sub | {"requires": req}, None, req,
                      f"profile {pid} now requires {req}", o["loc"], n["loc"])
        for req in o["requires"]:
            if req not in n["requires"]:
                c.add("PROFILE-REQUIRES-REMOVED", sub | {"requires": req}, req, None,
                      f"profile {pid} no longer requires {req}", o["loc"], n["loc"])


_KW_CLASS = {2: "MUST", 1: "SHOULD", 0: "MAY"}


def _without_keyword(text: str, word: str | None) -> str:
    if not word:
        return text
    return re.sub(r"(?<![\w-])" + r"\s+".join(map(re.escape, word.split())) + r"(?![\w-])", "<KW>", text, count=1)


def _compare_reqs(c: _Collector, old: dict, new: dict) -> None:
    profiles = new["profiles"] or old["profiles"]
    for rid in sorted(set(old["reqs"]) | set(new["reqs"])):
        o, n = old["reqs"].get(rid), new["reqs"].get(rid)
        sub = {"requirement": rid}
        if o is None:
            strength = _kw(n["keyword"])[1]
            rule = f"REQ-ADDED-{_KW_CLASS[strength]}"
            if n["profile"] not in old["profiles"]:
                rule, strength = "REQ-ADDED-IN-NEW-PROFILE", 0
            c.add(rule, sub, None, {"keyword": n["keyword"], "subject": n["subject"], "profile": n["profile"], "text": n["text"]},
                  f"{rid} is added ({n['subject']}, {n['keyword']}, profile {n['profile']}): {_short(n['text'])}",
                  None, n["loc"], breaks=_PARTY.get(n["subject"], "both") if strength == 2 else None)
            continue
        if n is None:
            strength = _kw(o["keyword"])[1]
            rule = f"REQ-REMOVED-{_KW_CLASS[strength]}"
            retired = new["retired"].get(rid)
            note = f"ID retired: {retired}" if retired is not None else "ID NOT retired"
            # annotate at the retired_ids entry, else at the top of the file it stood in
            doc_rel = (new.get("docs") or {}).get(o["doc"])
            anchor = (new.get("retired_loc") or {}).get(rid) or ([doc_rel, 1, 1] if doc_rel else None)
            c.add(rule, sub, {"keyword": o["keyword"], "subject": o["subject"], "profile": o["profile"]}, None,
                  f"{rid} is removed ({o['subject']}, {o['keyword']}; {note}): {_short(o['text'])}", o["loc"], None,
                  anchor=anchor, breaks=_OTHER.get(o["subject"], "both") if strength == 2 else None)
            if retired is None:
                c.add("REQ-ID-NOT-RETIRED", sub, None, None,
                      f"{rid} is removed but not listed in retired_ids of spec/cps.yaml; IDs are never reused",
                      o["loc"], None, anchor=anchor)
            continue
        ol, nl = o["loc"], n["loc"]
        (opol, ostr), (npol, nstr) = _kw(o["keyword"]), _kw(n["keyword"])
        kw_change = (opol, ostr) != (npol, nstr)
        if kw_change:
            msg = f"{rid}: keyword {o['keyword']} becomes {n['keyword']}"
            if opol and npol and opol != npol:
                c.add("REQ-KEYWORD-INVERTED", sub, o["keyword"], n["keyword"], msg, ol, nl)
            elif nstr > ostr:
                if nstr == 2:
                    c.add("REQ-KEYWORD-STRENGTHENED", sub, o["keyword"], n["keyword"], msg, ol, nl,
                          breaks=_PARTY.get(n["subject"], "both"))
                else:
                    c.add("REQ-KEYWORD-RECOMMENDED", sub, o["keyword"], n["keyword"], msg, ol, nl)
            else:
                if ostr == 2:
                    c.add("REQ-KEYWORD-WEAKENED", sub, o["keyword"], n["keyword"], msg, ol, nl,
                          breaks=_OTHER.get(n["subject"], "both"))
                else:
                    c.add("REQ-KEYWORD-SOFTENED", sub, o["keyword"], n["keyword"], msg, ol, nl)
        ot, nt = _without_keyword(o["text"], o["keyword"]), _without_keyword(n["text"], n["keyword"])
        if (ot != nt) if kw_change else (o["text"] != n["text"]):
            c.add("REQ-REWORDED", sub, o["text"], n["text"], f"{rid} is reworded: {_word_diff(o['text'], n['text'])}", ol, nl)
        if o["subject"] != n["subject"]:
            c.add("REQ-SUBJECT-CHANGED" if 2 in (ostr, nstr) else "REQ-RECOMMENDATION-SUBJECT-CHANGED", sub, o["subject"], n["subject"],
                  f"{rid}: binds {_PARTY.get(n['subject'], n['subject'])} instead of {_PARTY.get(o['subject'], o['subject'])}", ol, nl)
        if o["profile"] != n["profile"]:
            msg = f"{rid}: moves from profile {o['profile']} to {n['profile']}"
            if nstr == 2:
                move = _profile_move(profiles, o["profile"], n["profile"])
                breaks = {"widened": _PARTY, "narrowed": _OTHER}.get(move, {}).get(n["subject"], "both")
                c.add(f"REQ-PROFILE-{move.upper()}", sub, o["profile"], n["profile"], msg, ol, nl, breaks=breaks)
            else:
                c.add("REQ-RECOMMENDATION-PROFILE-CHANGED", sub, o["profile"], n["profile"], msg, ol, nl)
        if o["verify"] != n["verify"]:
            c.add("REQ-VERIFICATION-CHANGED", sub, o["verify"], n["verify"],
                  f"{rid}: verified by {n['verify']} instead of {o['verify']}", ol, nl)
        if (o["doc"], o["section"]) != (n["doc"], n["section"]):
            c.add("REQ-MOVED", sub, f"{o['doc']}#{o['section']}", f"{n['doc']}#{n['section']}",
                  f"{rid} moves from {o['doc']} § {o['section_title']} to {n['doc']} § {n['section_title']}", ol, nl)
    for rid in sorted(set(old["retired"]) - set(new["retired"])):
        reused = new["reqs"].get(rid)
        c.add("REQ-ID-UNRETIRED", {"requirement": rid}, old["retired"][rid], None,
              f"{rid} is no longer listed in retired_ids" + (" and is used again by a new requirement; retired IDs are "
                                                            "never reused" if reused else " (it stays reserved forever)"),
              None, reused["loc"] if reused else None)


def _short(text: str, n: int = 100) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _word_diff(a: str, b: str) -> str:
    """A compact description of a rewording: the first differing words."""
    wa, wb = a.split(), b.split()
    i = 0
    while i < min(len(wa), len(wb)) and wa[i] == wb[i]:
        i += 1
    j = 0
    while j < min(len(wa), len(wb)) - i and wa[-1 - j] == wb[-1 - j]:
        j += 1
    old = " ".join(wa[i: len(wa) - j]) or "∅"
    new = " ".join(wb[i: len(wb) - j]) or "∅"
    return f"“{_short(old, 60)}” → “{_short(new, 60)}”"


# ---------------------------------------------------------------------------------- results


def required_bump(changes: Iterable[Change]) -> str:
    """``major`` when any change is breaking, ``minor`` when any is non-breaking, ``patch`` when
    only editorial changes remain, ``none`` without changes. Accepted changes count: accepting
    a breaking change records that it was reviewed, it stays breaking."""
    sev = {ch.severity for ch in changes}
    if BREAKING in sev:
        return "major"
    if NON_BREAKING in sev:
        return "minor"
    if EDITORIAL in sev:
        return "patch"
    return "none"


def diff_specs(old_spec, new_spec) -> list[Change]:
    """Convenience: compare two loaded :class:`cps.model.Spec` objects."""
    return compare(snapshot(old_spec), snapshot(new_spec))


def rules_markdown() -> str:
    """The "Change rules" page: every rule of ``cps diff`` with severity, whom it breaks, a
    description and an example, plus the conventions behind them."""
    lines = [
        "# Change rules",
        "",
        "`cps diff OLD NEW` compares two versions of the specification semantically and reports each",
        "difference under one of the stable rule IDs below. IDs are never renumbered or reused.",
        "",
        "* **Severity**: `breaking` (an implementation that conformed to OLD may not conform to NEW, or may",
        "  not interoperate with one that conforms to NEW), `non-breaking` (an addition or relaxation",
        "  nobody has to act on), `editorial` (wording, location, verification method).",
        "* **Breaks**: who has to change: `servers`, `clients`, `both` or `none`. `subject` means the party",
        "  the requirement binds (`subject=server` or `client`); `counterpart` the other party (a server",
        "  MUST that disappears breaks the clients that relied on it).",
        "* **Input and output**: narrowing what a client may send breaks clients, widening it breaks",
        "  servers (they must now accept more); narrowing what a server may answer breaks servers,",
        "  widening it (a new status or error code, a new enum value) breaks clients.",
        "* **Profiles**: an obligation added to a profile that already existed breaks the implementations",
        "  claiming it; the same obligation in a profile that is new in this version breaks nobody",
        "  (`OP-ADDED`, `REQ-ADDED-IN-NEW-PROFILE`), so a new profile needs only a minor version.",
        "* **Level** follows the severity, as in oasdiff: `error` (breaking), `warning` (non-breaking),",
        "  `info` (editorial).",
        "* **Version bump**: `major` when any change is breaking, `minor` when any is non-breaking,",
        "  `patch` when all are editorial.",
        "* **Identity**: a requirement is its ID wherever it stands (moving it is `REQ-MOVED`), an operation",
        "  its operationId (a new path is `OP-PATH-CHANGED`), a parameter its location and name; order",
        "  never matters. A change inside a shared OpenAPI component (`#/components/parameters/…`,",
        "  `headers/…`, `responses/…`) is reported once, with the operations that use it.",
        "* **Fingerprint**: every change has a fingerprint, the first 16 hex digits of SHA-256 over the",
        "  rule ID, the identifiers of its subject and its old and new values (never line numbers). A",
        "  reviewed change is accepted by listing it in `.cps-accepted-changes.yaml`:",
        "",
        "  ```yaml",
        "  - fingerprint: 3f1c9a0b7d2e4f68",
        "    rule: REQ-KEYWORD-STRENGTHENED",
        "    reason: Every known server already does this (issue 42).",
        "    accepted_by: octocat        # optional",
        "  ```",
        "",
        "  Accepted changes are counted but not listed (`--show-accepted` lists them) and do not fail",
        "  `--fail-on`; they still count for the version bump.",
        "",
        "## Using `cps diff`",
        "",
        "```sh",
        "cps diff 1.0.0 draft                  # a release (releases/1.0.0/ or tag v1.0.0 / cps-1.0.0) against the working tree",
        "cps diff latest                       # the newest release (pre-releases included) against the draft",
        "cps diff git:origin/main draft --format github      # in a pull request: annotations",
        "cps diff git:origin/main draft --format markdown    # a table to paste as a review comment",
        "cps diff 1.0.0 ../other-checkout --format json      # machine-readable",
        "```",
        "",
        "Each side is `draft`, a released version `X.Y.Z`, `latest`, `git:REF` or a directory holding",
        "another checkout. `--fail-on breaking|any|none` (default `breaking`) sets when the exit status is 1;",
        "usage errors (an unknown version, a malformed accepted-changes file) exit 2. The JSON output is",
        "stable and described by the JSON Schema `tools/cps/diff_result.schema.json` (format `cps-diff/1`).",
        "",
        "## Rules",
        "",
        f"There are {len(CHANGE_RULES)} rules.",
        "",
        "| ID | Severity | Level | Breaks | Tags | Description | Example |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in CHANGE_RULES.values():
        desc = r.description.replace("|", "\\|")
        ex = r.example.replace("|", "\\|")
        lines.append(f"| `{r.id}` | {r.severity} | {r.level} | {r.breaks} | {', '.join(r.tags)} | {desc} | {ex} |")
    return "\n".join(lines) + "\n"


def accept_filter(changes: list[Change], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark the changes whose fingerprint (and rule) an accepted entry names; return the entries
    that matched no change (stale)."""
    by_fp = {}
    for e in entries:
        by_fp.setdefault(str(e.get("fingerprint")), []).append(e)
    used: set[int] = set()
    for ch in changes:
        for e in by_fp.get(ch.fingerprint, []):
            if e.get("rule") in (None, ch.rule):
                ch.accepted = e
                used.add(id(e))
                break
    return [e for e in entries if id(e) not in used]
