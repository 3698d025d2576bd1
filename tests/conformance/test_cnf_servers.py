"""The suite against the real reference servers: specific outcomes, so that a change that makes a
failing server look conformant (or a conformant behaviour look failing) breaks the build."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from cnf_support import ROOT, message, outcome


# ---------------------------------------------------------------- moto 5.2.5


@pytest.mark.parametrize("test_id", [
    "obj-put-get-roundtrip",
    "obj-etag-is-md5",
    "obj-range-simple",
    "mpu-complete-two-parts",
    "mpu-etag-form",
    "cond-put-if-none-match-exists",
    "auth-chunked-unsigned-trailer",   # moto decodes aws-chunked correctly
    "list-delimiter",
    "pre-object-operations",
])
def test_moto_passes(moto_result, test_id):
    assert outcome(moto_result, test_id) == "pass", message(moto_result, test_id)


def test_moto_known_defects(moto_result):
    # moto answers ListParts with a ListPartsResponse root element (AWS: ListPartsResult)
    assert outcome(moto_result, "mpu-list-parts") == "fail"
    assert "ListPartsResponse" in message(moto_result, "mpu-list-parts")
    # moto does not verify Content-MD5 nor signatures by default
    assert outcome(moto_result, "obj-put-content-md5-mismatch") == "fail"
    assert outcome(moto_result, "auth-wrong-secret") == "fail"
    # moto accepts invalid bucket names
    assert outcome(moto_result, "bkt-create-invalid-names") == "fail"
    # moto sends x-amzn-requestid, not x-amz-request-id
    assert outcome(moto_result, "http-request-id") == "fail"


def test_moto_verdicts(moto_result):
    pv = moto_result["profile_verdicts"]
    assert pv["core"]["verdict"] == "does-not-conform"
    assert moto_result["summary"]["conforms"] is False
    assert moto_result["summary"]["skipped"] == sum(1 for t in moto_result["tests"] if t["outcome"] == "skipped")


# ---------------------------------------------------------------- s3rver 3.7.1


@pytest.mark.parametrize("test_id", [
    "obj-put-get-roundtrip",
    "obj-range-last-beyond-end",
    "mpu-complete-two-parts",
    "list-pagination",
    "auth-unknown-access-key",   # s3rver knows its access keys
])
def test_s3rver_passes(s3rver_result, test_id):
    assert outcome(s3rver_result, test_id) == "pass", message(s3rver_result, test_id)


def test_s3rver_list_parts_405(s3rver_result):
    assert outcome(s3rver_result, "mpu-list-parts") == "fail"
    assert "405" in message(s3rver_result, "mpu-list-parts")
    # an operation of a profile answered 405 instead of 501 NotImplemented
    assert outcome(s3rver_result, "http-unimplemented-operation-501") == "fail"


def test_s3rver_stores_aws_chunked_framing(s3rver_result):
    assert outcome(s3rver_result, "auth-chunked-unsigned-trailer") == "fail"
    msg = message(s3rver_result, "auth-chunked-signed")
    assert outcome(s3rver_result, "auth-chunked-signed") == "fail" and "aws-chunked framing" in msg


def test_s3rver_ignores_if_none_match(s3rver_result):
    assert outcome(s3rver_result, "cond-put-if-none-match-exists") == "fail"
    assert "got 200" in message(s3rver_result, "cond-put-if-none-match-exists")


def test_s3rver_suffix_range(s3rver_result):
    # s3rver serves "bytes=-10" as bytes 0-10
    assert outcome(s3rver_result, "obj-range-simple") == "fail"
    assert "bytes 0-10/1000" in message(s3rver_result, "obj-range-simple")


def test_s3rver_multipart_etag_is_plain_md5(s3rver_result):
    assert outcome(s3rver_result, "mpu-etag-form") == "fail"


def test_s3rver_blocked_is_not_fail(s3rver_result):
    # ListMultipartUploads needs AbortMultipartUpload in its setup, which s3rver answers 405:
    # the test cannot verify anything, so it is blocked, not failed
    assert outcome(s3rver_result, "mpu-list-uploads") == "blocked"


# ---------------------------------------------------------------- outputs of a real run


def test_result_files(moto_server, tmp_path):
    """The CLI writes result.json (valid), junit.xml and a self-contained report.html, without secrets."""
    import jsonschema

    from cnf_support import run_cli

    proc = run_cli(["run", "--endpoint", moto_server.url, "--profile", "multipart", "--report", str(tmp_path),
                    "--only", "obj-*,mpu-list-parts,mpu-complete-two-parts", "--target-name", "moto"],
                   access_key="AKIAIOSFODNN7EXAMPLE", secret_key="moto-secret-Xy9pQ")
    assert proc.returncode == 1, proc.stderr
    data = json.loads((tmp_path / "result.json").read_text())
    schema = json.loads((ROOT / "schemas" / "conformance-result.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    failed = [t for t in data["tests"] if t["outcome"] == "fail"]
    assert failed and all(t.get("exchanges") for t in failed)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert int(root.get("failures")) == data["summary"]["fail"]
    html = (tmp_path / "report.html").read_text()
    assert "<script" not in html and "<link" not in html and "src=" not in html
    site = "https://cloud-portable.github.io/storage/"
    for rid in next(t for t in data["tests"] if t["id"] == "mpu-list-parts")["requirements"]:
        req = data["requirements"][rid]
        assert req["url"] == f"{site}draft/{req['doc']}/#{rid}"
        assert f'href="{req["url"]}"' in html
    for f in tmp_path.iterdir():
        text = f.read_text()
        assert "moto-secret-Xy9pQ" not in text
        assert "AKIAIOSFODNN7EXAMPLE" not in text
    assert "moto-secret-Xy9pQ" not in proc.stdout + proc.stderr
