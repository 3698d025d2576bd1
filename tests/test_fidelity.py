"""The fidelity rule: the definition must be a subset of the S3 model shipped in botocore."""

from __future__ import annotations

from cpstest import edit
from cps.fidelity import check_fidelity, split_uri
from cps.loader import load


def fid(repo):
    return [(d.code, d.location.path, d.location.line, d.message) for d in check_fidelity(load(repo))]


def test_clean_fixture_is_faithful(repo):
    assert fid(repo) == []


def test_split_uri_drops_greedy_marker_and_x_id():
    assert split_uri("/{Bucket}/{Key+}?uploads") == ("/{Bucket}/{Key}", ["uploads"])
    assert split_uri("/{Bucket}/{Key+}?x-id=PutObject") == ("/{Bucket}/{Key}", [])


def test_unknown_operation(repo):
    edit(repo / "schemas/openapi.yaml", "operationId: GetObject", "operationId: FetchObject")
    edit(repo / "spec/02-objects.md", "{#op-GetObject}", "{#op-FetchObject}")
    edit(repo / "spec/02-objects.md", "[[op:GetObject]]", "[[op:FetchObject]]")
    edit(repo / "spec/01-conventions.md", "#op-GetObject", "#op-FetchObject")
    found = fid(repo)
    assert [f[0] for f in found] == ["FID001"] and "FetchObject is not an operation of the S3 API" in found[0][3]


def test_wrong_method(repo):
    edit(repo / "schemas/openapi.yaml", "    get:\n      operationId: GetObject", "    post:\n      operationId: GetObject")
    found = fid(repo)
    assert found and found[0][0] == "FID001" and "GET /{Bucket}/{Key+} in S3" in found[0][3]


def test_unknown_header_parameter(repo):
    edit(
        repo / "schemas/openapi.yaml",
        "        - name: Key\n",
        "        - name: x-amz-colour\n          in: header\n          schema:\n            type: string\n        - name: Key\n",
    )
    found = fid(repo)
    assert [f[:3] for f in found] == [("FID002", "schemas/openapi.yaml", 20)]
    assert "header parameter x-amz-colour does not exist in S3's GetObject request" in found[0][3]


def test_incompatible_parameter_type(repo):
    edit(
        repo / "schemas/openapi.yaml",
        "        - name: Key\n",
        "        - name: partNumber\n          in: query\n          schema:\n            type: boolean\n        - name: Key\n",
    )
    found = fid(repo)
    assert [f[0] for f in found] == ["FID002"] and "partNumber is boolean here but integer in S3" in found[0][3]


def test_unknown_response_header(repo):
    edit(
        repo / "schemas/openapi.yaml",
        "          description: The object.\n",
        "          description: The object.\n          headers:\n            x-amz-colour:\n              schema:\n                type: string\n",
    )
    found = fid(repo)
    assert [f[0] for f in found] == ["FID003"] and "x-amz-colour is not in S3's GetObjectOutput" in found[0][3]


def test_exception_needs_a_reason(repo):
    edit(repo / "schemas/bodies/Error.yaml", "x-cps-fidelity-exception: The error", "x-cps-fidelity-exception: ''\nx-cps-note: The error")
    found = fid(repo)
    assert "FID005" in [f[0] for f in found]


def test_unknown_xml_element(repo, tmp_path):
    # A ListBucketResult body with an element S3 does not have.
    (repo / "schemas/bodies/ListBucketResult.yaml").write_text(
        "$schema: https://json-schema.org/draft/2020-12/schema\n"
        "type: object\nxml:\n  name: ListBucketResult\nproperties:\n  Name:\n    type: string\n"
        "  Colour:\n    type: string\n  KeyCount:\n    type: string\n  Contents:\n    type: object\n",
        encoding="utf-8",
    )
    edit(
        repo / "schemas/openapi.yaml",
        "    Error:\n      $ref: bodies/Error.yaml\n",
        "    Error:\n      $ref: bodies/Error.yaml\n    ListBucketResult:\n      $ref: bodies/ListBucketResult.yaml\n",
    )
    edit(
        repo / "schemas/openapi.yaml",
        "paths:\n",
        "paths:\n  /{Bucket}#list-type=2:\n    get:\n      operationId: ListObjectsV2\n      x-cps-profile: core\n"
        "      x-cps-dispatch:\n        query: [list-type=2]\n      parameters:\n        - name: Bucket\n          in: path\n"
        "          required: true\n          schema:\n            type: string\n      responses:\n        '200':\n"
        "          description: ok\n          content:\n            application/xml:\n              schema:\n"
        "                $ref: '#/components/schemas/ListBucketResult'\n",
    )
    found = {(f[0], f[2]) for f in fid(repo)}
    assert ("FID004", 8) in found  # Colour: no such element
    assert ("FID004", 10) in found  # KeyCount: string here, integer in S3
    assert ("FID004", 12) in found  # Contents: a flattened list, must be an array
