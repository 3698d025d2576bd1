"""Every change rule of ``cps diff`` fires on a pair of versions made for it.

Each case copies the base fixture (tests/fixtures/diff/base) twice, applies edits to the old and/or
new copy, loads both with the loader and compares them. The case names the rule that must fire
and whom the change must break.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cps import differ
from cps.loader import load

BASE = Path(__file__).resolve().parent / "fixtures" / "diff" / "base"
O = "schemas/openapi.yaml"
OBJ = "spec/02-objects.md"
ERR = "schemas/bodies/Error.yaml"
DEL = "schemas/bodies/Delete.yaml"
OID = "schemas/bodies/ObjectIdentifier.yaml"
RES = "schemas/bodies/DeleteResult.yaml"

HEAD_BUCKET = (
    O, "components:\n",
    "  /{Bucket}:\n    head:\n      operationId: HeadBucket\n      x-cps-profile: core\n"
    "      responses:\n        '200':\n          description: ok\ncomponents:\n",
)
HEAD_BUCKET_NEW_PROFILE = (HEAD_BUCKET[0], HEAD_BUCKET[1], HEAD_BUCKET[2].replace("x-cps-profile: core", "x-cps-profile: presigned"))
NEW_PROFILE = ("spec/profiles.yaml", "  - id: cors\n", "  - id: presigned\n    name: Presigned\n    summary: URLs.\n    requires: [core]\n  - id: cors\n")
PART_NUMBER = (
    "        - name: partNumber\n          in: query\n          required: false\n          schema:\n"
    "            type: integer\n            minimum: 1\n            maximum: 10000\n"
)


def _param(required: bool) -> tuple:
    return (O, "        - name: Range\n",
            f"        - name: versionId\n          in: query\n          required: {str(required).lower()}\n"
            "          schema:\n            type: string\n        - name: Range\n")


def _body(required: bool) -> tuple:
    return (O, "      responses:\n        '200':\n          description: The object.\n",
            f"      requestBody:\n        required: {str(required).lower()}\n        content:\n"
            "          application/xml:\n            schema:\n              $ref: '#/components/schemas/Delete'\n"
            "      responses:\n        '200':\n          description: The object.\n")


def _header(required: bool) -> tuple:
    req = "              required: true\n" if required else ""
    return (O, "            Content-Length:\n",
            f"            Last-Modified:\n{req}              schema:\n                type: string\n"
            "            Content-Length:\n")


REQUEST_BODY = (
    "      requestBody:\n        required: true\n        content:\n          application/xml:\n"
    "            schema:\n              $ref: '#/components/schemas/Delete'\n"
)
ETAG = "            ETag:\n              required: true\n              schema:\n                type: string\n"
ETAG_PATTERN = "            ETag:\n              required: true\n              schema:\n                type: string\n                pattern: '^\"'\n"
VERSION_ID = "  VersionId:\n    type: string\n"
NEW_SCHEMA = (
    "schemas/bodies/Tagging.yaml", None,
    "$schema: https://json-schema.org/draft/2020-12/schema\ntitle: Tagging\ntype: object\nxml:\n  name: Tagging\n",
)

# rule -> (edits of the new copy, edits of the old copy, whom it must break)
CASES: dict[str, tuple[list, list, str]] = {
    "OP-ADDED": ([HEAD_BUCKET_NEW_PROFILE, NEW_PROFILE], [], "none"),
    "OP-ADDED-TO-PROFILE": ([HEAD_BUCKET], [], "servers"),
    "OP-REMOVED": ([], [HEAD_BUCKET], "clients"),
    "OP-PATH-CHANGED": ([(O, "/{Bucket}#delete:", "/{Bucket}#deleteObjects:")], [], "both"),
    "OP-METHOD-CHANGED": ([(O, "    post:\n      operationId: DeleteObjects", "    put:\n      operationId: DeleteObjects")], [], "both"),
    "OP-SECURITY-ADDED": ([(O, "        - sigv4Query: []\n", "        - sigv4Query: []\n        - {}\n")], [], "servers"),
    "OP-SECURITY-REMOVED": ([(O, "        - sigv4Query: []\n", "")], [], "clients"),
    "OP-PROFILE-WIDENED": ([(O, "x-cps-profile: extra", "x-cps-profile: core")], [], "servers"),
    "OP-PROFILE-NARROWED": ([(O, "x-cps-profile: core", "x-cps-profile: extra")], [], "clients"),
    "OP-PROFILE-CHANGED": ([(O, "x-cps-profile: extra", "x-cps-profile: cors")], [], "both"),
    "PARAM-ADDED": ([_param(False)], [], "none"),
    "PARAM-REQUIRED-ADDED": ([_param(True)], [], "clients"),
    "PARAM-REMOVED": ([(O, PART_NUMBER, "")], [], "clients"),
    "PARAM-BECAME-REQUIRED": ([(O, "          in: query\n          required: false", "          in: query\n          required: true")], [], "clients"),
    "PARAM-BECAME-OPTIONAL": ([(O, "          in: query\n          required: true", "          in: query\n          required: false")], [], "servers"),
    "PARAM-TYPE-CHANGED": ([(O, "type: integer\n            minimum: 1", "type: string\n            minimum: 1")], [], "both"),
    "PARAM-ENUM-VALUE-ADDED": ([(O, "enum: [ENABLED]", "enum: [ENABLED, DISABLED]")], [], "servers"),
    "PARAM-ENUM-VALUE-REMOVED": ([], [(O, "enum: [ENABLED]", "enum: [ENABLED, DISABLED]")], "clients"),
    "PARAM-PATTERN-CHANGED": ([(O, "'^bytes=[0-9]+-[0-9]*$'", "'^bytes=[0-9]+-[0-9]+$'")], [], "both"),
    "PARAM-LIMIT-NARROWED": ([(O, "maximum: 10000", "maximum: 5000")], [], "clients"),
    "PARAM-LIMIT-WIDENED": ([(O, "maximum: 10000", "maximum: 20000")], [], "servers"),
    "REQUEST-BODY-ADDED": ([_body(False)], [], "none"),
    "REQUEST-BODY-REQUIRED-ADDED": ([_body(True)], [], "clients"),
    "REQUEST-BODY-REMOVED": ([(O, REQUEST_BODY, "")], [], "clients"),
    "REQUEST-BODY-BECAME-REQUIRED": ([], [(O, "      requestBody:\n        required: true", "      requestBody:\n        required: false")], "clients"),
    "REQUEST-BODY-BECAME-OPTIONAL": ([(O, "      requestBody:\n        required: true", "      requestBody:\n        required: false")], [], "servers"),
    "REQUEST-BODY-CHANGED": ([(O, "              $ref: '#/components/schemas/Delete'", "              $ref: '#/components/schemas/ObjectIdentifier'")], [], "both"),
    "REQUEST-PROPERTY-ADDED": ([(DEL, "  Quiet:\n    type: boolean\n", "  Quiet:\n    type: boolean\n  Mode:\n    type: string\n")], [], "none"),
    "REQUEST-REQUIRED-PROPERTY-ADDED": ([(DEL, "  Quiet:\n    type: boolean\n", "  Quiet:\n    type: boolean\n  Mode:\n    type: string\n"),
                                         (DEL, "required: [Object]", "required: [Object, Mode]")], [], "clients"),
    "REQUEST-PROPERTY-REMOVED": ([(DEL, "  Quiet:\n    type: boolean\n", "")], [], "clients"),
    "REQUEST-PROPERTY-BECAME-REQUIRED": ([(DEL, "required: [Object]", "required: [Object, Quiet]")], [], "clients"),
    "REQUEST-PROPERTY-BECAME-OPTIONAL": ([(OID, "required: [Key]", "required: []")], [], "servers"),
    "REQUEST-PROPERTY-TYPE-CHANGED": ([(DEL, "type: boolean", "type: string")], [], "both"),
    "REQUEST-PROPERTY-ENUM-VALUE-ADDED": ([(OID, VERSION_ID, VERSION_ID + "    enum: [a, b]\n")], [(OID, VERSION_ID, VERSION_ID + "    enum: [a]\n")], "servers"),
    "REQUEST-PROPERTY-ENUM-VALUE-REMOVED": ([(OID, VERSION_ID, VERSION_ID + "    enum: [a]\n")], [(OID, VERSION_ID, VERSION_ID + "    enum: [a, b]\n")], "clients"),
    "REQUEST-PROPERTY-PATTERN-CHANGED": ([(OID, VERSION_ID, VERSION_ID + "    pattern: '^b'\n")], [(OID, VERSION_ID, VERSION_ID + "    pattern: '^a'\n")], "both"),
    "REQUEST-PROPERTY-LIMIT-NARROWED": ([(DEL, "maxItems: 1000", "maxItems: 500")], [], "clients"),
    "REQUEST-PROPERTY-LIMIT-WIDENED": ([(OID, "    minLength: 1\n", "")], [], "servers"),
    "RESPONSE-STATUS-ADDED": ([(O, "        '404':\n          description: No such key.\n",
                                "        '403':\n          description: Denied.\n          x-cps-errors: [AccessDenied]\n"
                                "        '404':\n          description: No such key.\n")], [], "clients"),
    "RESPONSE-STATUS-REMOVED": ([(O, "        '400':\n          description: Malformed body.\n          x-cps-errors: [MalformedXML]\n"
                                  "          content:\n            application/xml:\n              schema:\n"
                                  "                $ref: '#/components/schemas/Error'\n", "")], [], "servers"),
    "RESPONSE-SUCCESS-STATUS-REMOVED": ([(O, "        '200':\n          description: What was deleted.", "        '204':\n          description: What was deleted.")], [], "both"),
    "RESPONSE-ERROR-CODE-ADDED": ([(O, "x-cps-errors: [MalformedXML]", "x-cps-errors: [MalformedXML, AccessDenied]")], [], "clients"),
    "RESPONSE-ERROR-CODE-REMOVED": ([(O, "x-cps-errors: [NoSuchKey, NoSuchBucket]", "x-cps-errors: [NoSuchKey]")], [], "servers"),
    "RESPONSE-HEADER-ADDED": ([_header(False)], [], "none"),
    "RESPONSE-REQUIRED-HEADER-ADDED": ([_header(True)], [], "servers"),
    "RESPONSE-HEADER-REMOVED": ([(O, "            Content-Length:\n              schema:\n                type: integer\n                minimum: 0\n", "")], [], "none"),
    "RESPONSE-REQUIRED-HEADER-REMOVED": ([(O, ETAG, "")], [], "clients"),
    "RESPONSE-HEADER-BECAME-REQUIRED": ([(O, "            Content-Length:\n", "            Content-Length:\n              required: true\n")], [], "servers"),
    "RESPONSE-HEADER-BECAME-OPTIONAL": ([(O, "            ETag:\n              required: true", "            ETag:\n              required: false")], [], "clients"),
    "RESPONSE-HEADER-TYPE-CHANGED": ([(O, "type: integer\n                minimum: 0", "type: string\n                minimum: 0")], [], "both"),
    "RESPONSE-HEADER-ENUM-VALUE-ADDED": ([(O, "enum: [COMPOSITE, FULL_OBJECT]", "enum: [COMPOSITE, FULL_OBJECT, PARTIAL]")], [], "clients"),
    "RESPONSE-HEADER-ENUM-VALUE-REMOVED": ([(O, "enum: [COMPOSITE, FULL_OBJECT]", "enum: [COMPOSITE]")], [], "servers"),
    "RESPONSE-HEADER-PATTERN-CHANGED": ([(O, ETAG, ETAG_PATTERN.replace("'^\"'", "'^W?\"'"))], [(O, ETAG, ETAG_PATTERN)], "both"),
    "RESPONSE-HEADER-LIMIT-NARROWED": ([(O, "                minimum: 0\n", "                minimum: 1\n")], [], "servers"),
    "RESPONSE-HEADER-LIMIT-WIDENED": ([(O, "                type: integer\n                minimum: 0\n", "                type: integer\n")], [], "clients"),
    "RESPONSE-BODY-CHANGED": ([(O, "x-cps-errors: [NoSuchKey, NoSuchBucket]\n          content:\n            application/xml:",
                                "x-cps-errors: [NoSuchKey, NoSuchBucket]\n          content:\n            application/json:")], [], "both"),
    "RESPONSE-PROPERTY-ADDED": ([(ERR, "  Message:\n    type: string\n", "  Message:\n    type: string\n  Resource:\n    type: string\n")], [], "none"),
    "RESPONSE-REQUIRED-PROPERTY-ADDED": ([(ERR, "  Message:\n    type: string\n", "  Message:\n    type: string\n  Resource:\n    type: string\n"),
                                          (ERR, "required: [Code]", "required: [Code, Resource]")], [], "servers"),
    "RESPONSE-PROPERTY-REMOVED": ([(ERR, "  Message:\n    type: string\n", "")], [], "none"),
    "RESPONSE-REQUIRED-PROPERTY-REMOVED": ([(ERR, "  Code:\n    type: string\n", ""), (ERR, "required: [Code]", "required: []")], [], "clients"),
    "RESPONSE-PROPERTY-BECAME-REQUIRED": ([(ERR, "required: [Code]", "required: [Code, Message]")], [], "servers"),
    "RESPONSE-PROPERTY-BECAME-OPTIONAL": ([(RES, "required: [Deleted]", "required: []")], [], "clients"),
    "RESPONSE-PROPERTY-TYPE-CHANGED": ([(RES, "  Errors:\n    type: integer", "  Errors:\n    type: string")], [], "both"),
    "RESPONSE-PROPERTY-ENUM-VALUE-ADDED": ([(RES, "enum: [Deleted, Absent]", "enum: [Deleted, Absent, Locked]")], [], "clients"),
    "RESPONSE-PROPERTY-ENUM-VALUE-REMOVED": ([(RES, "enum: [Deleted, Absent]", "enum: [Deleted]")], [], "servers"),
    "RESPONSE-PROPERTY-PATTERN-CHANGED": ([(ERR, "    maxLength: 64\n", "    maxLength: 64\n    pattern: '^[A-Z0-9]+$'\n")],
                                          [(ERR, "    maxLength: 64\n", "    maxLength: 64\n    pattern: '^[A-F0-9]+$'\n")], "both"),
    "RESPONSE-PROPERTY-LIMIT-NARROWED": ([(ERR, "maxLength: 64", "maxLength: 32")], [], "servers"),
    "RESPONSE-PROPERTY-LIMIT-WIDENED": ([(ERR, "maxLength: 64", "maxLength: 128")], [], "clients"),
    "ERROR-CODE-ADDED": ([("spec/errors.yaml", "  MalformedXML:\n", "  SlowDown:\n    status: 503\n    description: Slow down.\n  MalformedXML:\n")], [], "none"),
    "ERROR-CODE-REMOVED": ([("spec/errors.yaml", "  AccessDenied:\n    status: 403\n    description: Not allowed.\n", "")], [], "servers"),
    "ERROR-STATUS-CHANGED": ([("spec/errors.yaml", "  MalformedXML:\n    status: 400", "  MalformedXML:\n    status: 422")], [], "both"),
    "PROFILE-ADDED": ([NEW_PROFILE], [], "none"),
    "PROFILE-REMOVED": ([("spec/profiles.yaml", "  - id: cors\n    name: Browser access\n    summary: CORS.\n    requires: [core]\n", "")], [], "both"),
    "PROFILE-REQUIRES-ADDED": ([("spec/profiles.yaml", "    summary: CORS.\n    requires: [core]", "    summary: CORS.\n    requires: [core, extra]")], [], "servers"),
    "PROFILE-REQUIRES-REMOVED": ([("spec/profiles.yaml", "    summary: CORS.\n    requires: [core]", "    summary: CORS.\n    requires: []")], [], "clients"),
    "REQ-ADDED-MUST": ([(OBJ, "## Deleting", "[CPS-OBJ-011] A server MUST reject an empty key.\n\n## Deleting")], [], "servers"),
    "REQ-ADDED-SHOULD": ([(OBJ, "## Deleting", "[CPS-OBJ-011] A server SHOULD cache listings.\n\n## Deleting")], [], "none"),
    "REQ-ADDED-IN-NEW-PROFILE": ([(OBJ, "## Deleting", "[CPS-OBJ-011]{profile=presigned} A server MUST accept signed URLs.\n\n## Deleting"),
                                  NEW_PROFILE], [], "none"),
    "REQ-ADDED-MAY": ([(OBJ, "## Deleting", "[CPS-OBJ-011] A server MAY cache listings.\n\n## Deleting")], [], "none"),
    "REQ-REMOVED-MUST": ([(OBJ, "[CPS-OBJ-010] A server MUST delete every key listed in the body.\n", "")], [], "clients"),
    "REQ-REMOVED-SHOULD": ([(OBJ, "[CPS-OBJ-004] A server SHOULD send `ETag` with every object.\n", "")], [], "none"),
    "REQ-REMOVED-MAY": ([(OBJ, "[CPS-OBJ-007] A server MAY compress stored data.\n", "")], [], "none"),
    "REQ-ID-NOT-RETIRED": ([(OBJ, "[CPS-OBJ-007] A server MAY compress stored data.\n", "")], [], "none"),
    "REQ-ID-UNRETIRED": ([("spec/cps.yaml", "retired_ids:\n  CPS-OBJ-009: merged into CPS-OBJ-002\n", "retired_ids: {}\n")], [], "none"),
    "REQ-KEYWORD-STRENGTHENED": ([(OBJ, "A server SHOULD send `ETag`", "A server MUST send `ETag`")], [], "servers"),
    "REQ-KEYWORD-RECOMMENDED": ([(OBJ, "A server MAY compress", "A server SHOULD compress")], [], "none"),
    "REQ-KEYWORD-WEAKENED": ([(OBJ, "A server MUST answer", "A server SHOULD answer")], [], "clients"),
    "REQ-KEYWORD-SOFTENED": ([(OBJ, "A server SHOULD send `ETag`", "A server MAY send `ETag`")], [], "none"),
    "REQ-KEYWORD-INVERTED": ([(OBJ, "A client MUST NOT rely", "A client MUST rely")], [], "both"),
    "REQ-REWORDED": ([(OBJ, "for a missing key", "for a key that does not exist")], [], "none"),
    "REQ-MOVED": ([(OBJ, "[CPS-OBJ-007] A server MAY compress stored data.\n", ""),
                   (OBJ, "See [[schema:Error]]", "[CPS-OBJ-007] A server MAY compress stored data.\n\nSee [[schema:Error]]")], [], "none"),
    "REQ-VERIFICATION-CHANGED": ([("spec/01-conventions.md", "[CPS-CONV-001]{verify=inspection}", "[CPS-CONV-001]")], [], "none"),
    "REQ-SUBJECT-CHANGED": ([(OBJ, "[CPS-OBJ-003]{subject=client verify=inspection}", "[CPS-OBJ-003]{verify=inspection}")], [], "both"),
    "REQ-RECOMMENDATION-SUBJECT-CHANGED": ([(OBJ, "[CPS-OBJ-006]{subject=client} A client", "[CPS-OBJ-006] A client")], [], "none"),
    "REQ-PROFILE-WIDENED": ([(OBJ, "[CPS-OBJ-005]{profile=extra}", "[CPS-OBJ-005]")], [], "servers"),
    "REQ-PROFILE-NARROWED": ([(OBJ, "[CPS-OBJ-001] A server", "[CPS-OBJ-001]{profile=extra} A server")], [], "clients"),
    "REQ-PROFILE-CHANGED": ([(OBJ, "[CPS-OBJ-005]{profile=extra}", "[CPS-OBJ-005]{profile=cors}")], [], "both"),
    "REQ-RECOMMENDATION-PROFILE-CHANGED": ([(OBJ, "[CPS-OBJ-004] A server", "[CPS-OBJ-004]{profile=extra} A server")], [], "none"),
    "SCHEMA-ADDED": ([NEW_SCHEMA], [], "none"),
    "SCHEMA-REMOVED": ([], [NEW_SCHEMA], "none"),
}


def make_tree(dest: Path, edits) -> Path:
    shutil.copytree(BASE, dest, ignore=shutil.ignore_patterns(".cache"))
    for rel, old, new in edits:
        p = dest / rel
        if old is None:
            p.write_text(new, encoding="utf-8")
            continue
        text = p.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return dest


def diff_trees(tmp_path: Path, new_edits=(), old_edits=()) -> list[differ.Change]:
    old = load(make_tree(tmp_path / "old", old_edits))
    new = load(make_tree(tmp_path / "new", new_edits))
    return differ.diff_specs(old, new)


def test_every_rule_has_a_case():
    assert set(CASES) == set(differ.CHANGE_RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires(tmp_path, rule_id):
    new_edits, old_edits, breaks = CASES[rule_id]
    changes = diff_trees(tmp_path, new_edits, old_edits)
    fired = [c for c in changes if c.rule == rule_id]
    assert fired, f"{rule_id} did not fire; got {[c.rule for c in changes]}"
    rule = differ.CHANGE_RULES[rule_id]
    for c in fired:
        assert c.severity == rule.severity
        assert c.breaks == breaks, (rule_id, c.message)
        assert c.message
        assert c.old_location or c.new_location or rule_id == "REQ-ID-UNRETIRED"
        assert len(c.fingerprint) == 16


def test_base_against_itself_is_empty(tmp_path):
    assert diff_trees(tmp_path) == []


def test_client_requirement_added_breaks_clients(tmp_path):
    edit = (OBJ, "## Deleting", "[CPS-OBJ-011]{subject=client} A client MUST send `Content-Length`.\n\n## Deleting")
    [c] = diff_trees(tmp_path, [edit])
    assert (c.rule, c.breaks) == ("REQ-ADDED-MUST", "clients")


def test_removed_client_must_breaks_servers(tmp_path):
    changes = diff_trees(tmp_path, [(OBJ, "- [CPS-OBJ-003]{subject=client verify=inspection} A client MUST NOT rely on the `Message` text.\n", "")])
    [c] = [c for c in changes if c.rule == "REQ-REMOVED-MUST"]
    assert c.breaks == "servers"


def test_properly_retired_removal_is_not_flagged(tmp_path):
    changes = diff_trees(tmp_path, [
        (OBJ, "[CPS-OBJ-007] A server MAY compress stored data.\n", ""),
        ("spec/cps.yaml", "  CPS-OBJ-009: merged into CPS-OBJ-002\n", "  CPS-OBJ-009: merged into CPS-OBJ-002\n  CPS-OBJ-007: dropped\n"),
    ])
    assert [c.rule for c in changes] == ["REQ-REMOVED-MAY"]
    assert "ID retired: dropped" in changes[0].message


def test_shared_component_parameter_is_reported_once(tmp_path):
    [c] = diff_trees(tmp_path, [(O, "maxLength: 63", "maxLength: 255")])
    assert c.rule == "PARAM-LIMIT-WIDENED"
    assert c.subject == {"component": "parameters/Bucket", "parameter": "path Bucket", "limit": "maxLength"}
    assert "used by 2 operations: DeleteObjects, GetObject" in c.message
    assert c.new_location.line == 107  # the component's definition, not one of its uses


SHARED = (
    (O, "components:\n  securitySchemes:\n",
     "components:\n  headers:\n    RequestId:\n      schema:\n        type: string\n"
     "  responses:\n    Forbidden:\n      description: Denied.\n      x-cps-errors: [AccessDenied]\n"
     "      headers:\n        x-amz-request-id:\n          $ref: '#/components/headers/RequestId'\n"
     "  securitySchemes:\n"),
    (O, "        '404':\n          description: No such key.\n",
     "        '403':\n          $ref: '#/components/responses/Forbidden'\n        '404':\n          description: No such key.\n"),
    (O, "        '400':\n          description: Malformed body.\n",
     "        '403':\n          $ref: '#/components/responses/Forbidden'\n        '400':\n          description: Malformed body.\n"),
)


def test_shared_response_and_header_changes_are_reported_once(tmp_path):
    changes = diff_trees(tmp_path, [
        *SHARED,
        (O, "      x-cps-errors: [AccessDenied]\n", "      x-cps-errors: [AccessDenied, SignatureDoesNotMatch]\n"),
        (O, "    RequestId:\n      schema:\n        type: string\n", "    RequestId:\n      schema:\n        type: string\n        maxLength: 32\n"),
        ("spec/errors.yaml", "errors:\n", "errors:\n  SignatureDoesNotMatch:\n    status: 403\n    description: Bad signature.\n"),
    ], SHARED)
    got = {(c.rule, tuple(sorted(c.subject.items()))) for c in changes}
    assert got == {
        ("ERROR-CODE-ADDED", (("error", "SignatureDoesNotMatch"),)),
        ("RESPONSE-ERROR-CODE-ADDED", (("component", "responses/Forbidden"), ("error", "SignatureDoesNotMatch"), ("status", "403"))),
        ("RESPONSE-HEADER-LIMIT-NARROWED", (("component", "headers/RequestId"), ("header", "x-amz-request-id"), ("limit", "maxLength"))),
    }
    for c in changes:
        if c.rule != "ERROR-CODE-ADDED":
            assert "used by 2 operations: DeleteObjects, GetObject" in c.message


def test_nested_schema_reference_is_followed(tmp_path):
    [c] = diff_trees(tmp_path, [(OID, "  VersionId:\n    type: string\n", "")])
    assert c.rule == "REQUEST-PROPERTY-REMOVED"
    assert c.subject["property"] == "Delete.Object[].VersionId"
    assert c.old_location.path == OID


def test_rules_markdown_lists_every_rule():
    page = differ.rules_markdown()
    assert page.startswith("# Change rules")
    for rid, r in differ.CHANGE_RULES.items():
        assert f"| `{rid}` | {r.severity} |" in page


def test_new_array_element_is_one_addition(tmp_path):
    changes = diff_trees(tmp_path, [(RES, "  Errors:\n", "  Skipped:\n    type: array\n    items:\n      type: string\n  Errors:\n")])
    assert [(c.rule, c.subject["property"]) for c in changes] == [("RESPONSE-PROPERTY-ADDED", "DeleteResult.Skipped")]


def test_reused_retired_id_is_flagged(tmp_path):
    changes = diff_trees(tmp_path, [
        ("spec/cps.yaml", "retired_ids:\n  CPS-OBJ-009: merged into CPS-OBJ-002\n", "retired_ids: {}\n"),
        (OBJ, "## Deleting", "[CPS-OBJ-009] A server MAY cache listings.\n\n## Deleting"),
    ])
    [c] = [c for c in changes if c.rule == "REQ-ID-UNRETIRED"]
    assert "used again" in c.message and c.new_location.path == OBJ
