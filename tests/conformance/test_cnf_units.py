"""Unit tests of the conformance suite: matcher, signing, redaction, outcomes, writers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cnf_support import ROOT
from cps.conformance import datagen, matcher, report, wire
from cps.conformance.catalog import TestCase, load_tests
from cps.diagnostics import Location
from cps.conformance.runner import (
    Config, Run, TestResult, exit_code, profile_verdicts, requirement_verdicts, substitute, VectorError,
)

# ---------------------------------------------------------------- matcher


@pytest.mark.parametrize("expected, actual, ok", [
    ("5", "5", True), (5, "5", True), ("5", "6", False), ("x", None, False),
    (None, None, True), (None, "x", False),
    ({"regex": "a+b"}, "aab", True), ({"regex": "a+b"}, "aabc", False),
    ({"contains": "bc"}, "abcd", True), ({"present": True}, None, False), ({"present": False}, None, True),
    ({"one_of": ["a", "b"]}, "b", True), ({"one_of": ["a", "b"]}, "c", False),
    ({"any_of": [None, {"regex": "x.*"}]}, None, True), ({"any_of": [None, {"regex": "x.*"}]}, "yz", False),
    ({"not": "a"}, "b", True), ({"not": "a"}, "a", False),
    ({"count": 2}, ["a", "b"], True), ({"count": {"ge": 3}}, ["a", "b"], False),
    ({"includes": "b"}, ["a", "b"], True), ({"excludes": "b"}, ["a", "b"], False),
    ({"all": {"regex": "[ab]"}}, ["a", "b"], True), ({"all": {"regex": "a"}}, ["a", "b"], False),
    ({"ge": 200, "lt": 300}, "204", True), ({"ge": 200, "lt": 300}, "304", False),
    ({"sorted": True}, ["B", "a", "b"], True), ({"sorted": True}, ["a", "B"], False),
    ({"etag": True}, '"abc"', True), ({"etag": True}, "abc", False),
    ({"http_date": True}, "Wed, 25 Nov 2026 12:00:00 GMT", True), ({"http_date": True}, "2026-11-25", False),
    ({"iso8601": True}, "2026-11-25T12:00:00.000Z", True), ({"iso8601": True}, "Wed, 25 Nov 2026", False),
    (["a", "b"], ["a", "b"], True), (["a", "b"], ["b", "a"], False), (["a"], "a", False),
    ({"iequals": "ABC"}, "abc", True), (True, "true", True),
])
def test_matcher(expected, actual, ok):
    assert (matcher.match(expected, actual) is None) is ok


def test_matcher_rejects_unknown_operator():
    with pytest.raises(matcher.MatcherError):
        matcher.match({"regexp": "x"}, "x")


def test_xml_path():
    root = matcher.parse_xml(b'<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                             b"<Name>b</Name><Contents><Key>a</Key></Contents><Contents><Key>c</Key></Contents>"
                             b"<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>")
    assert matcher.xml_path(root, "@root") == "ListBucketResult"
    assert matcher.xml_path(root, "Name") == "b"
    assert matcher.xml_path(root, "Contents[*].Key") == ["a", "c"]
    assert matcher.xml_path(root, "Contents[1].Key") == "c"
    assert matcher.xml_path(root, "Contents.Key") == "a"
    assert matcher.xml_path(root, "Missing") is None
    assert matcher.xml_path(root, "Missing[*].Key") == []
    with pytest.raises(matcher.XmlError):
        matcher.parse_xml(b"<a><b></a>")
    with pytest.raises(matcher.XmlError):  # no entity expansion (defusedxml)
        matcher.parse_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')


# ---------------------------------------------------------------- data, templating


def test_generated_data_is_deterministic_and_streamed():
    a = b"".join(datagen.blocks("s", 3 * datagen.BLOCK + 5, chunk=1000))
    b = b"".join(datagen.blocks("s", 3 * datagen.BLOCK + 5))
    assert a == b and len(a) == 3 * datagen.BLOCK + 5
    assert datagen.digest("s", len(a))["sha256"] == hashlib.sha256(a).hexdigest()
    assert datagen.slice_digest("s", len(a), 10, 2 * datagen.BLOCK) == hashlib.sha256(a[10:2 * datagen.BLOCK + 1]).hexdigest()
    assert b"".join(datagen.blocks("t", 100)) != a[:100]
    # the first block of a generated stream is a pure function of (seed, index): other runners reproduce it
    assert b"".join(datagen.blocks("x", 16)) == hashlib.shake_128(b"cps:x:0").digest(16)


def test_substitute():
    env = {"p": "pre/", "n": 3}
    assert substitute("${p}key-${n}", env) == "pre/key-3"
    assert substitute({"a": ["${p}"]}, env) == {"a": ["pre/"]}
    assert substitute("${repeat:ab:3}", env) == "ababab"
    assert substitute("${md5:x:0}", env) == hashlib.md5(b"").hexdigest()
    with pytest.raises(VectorError):
        substitute("${nope}", env)


# ---------------------------------------------------------------- signing


def test_sigv4_header_matches_botocore():
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCreds

    creds = wire.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    ts = "20260101T120000Z"
    req = wire.Request("PUT", "/bucket/dir/a key+é.txt", [("partNumber", "1"), ("uploadId", "a/b=c")])
    req.set_header("Host", "127.0.0.1:9000")
    req.set_header("Content-Type", "text/plain")
    req.set_header("x-amz-meta-a", "  two   spaces ")
    payload = hashlib.sha256(b"hello").hexdigest()
    wire.sign_header(req, creds, "us-east-1", payload, ts)
    ours = req.header("Authorization")

    url = "http://127.0.0.1:9000" + req.target()
    areq = AWSRequest(method="PUT", url=url, data=b"hello",
                      headers={k: v for k, v in req.headers if k.lower() not in ("authorization",)})
    signer = SigV4Auth(BotoCreds(creds.access_key, creds.secret_key), "s3", "us-east-1")
    signer._normalize_url_path = lambda path: path  # S3: no normalisation, encoded once (as sent)
    areq.context["timestamp"] = ts
    creq = signer.canonical_request(areq)
    sig = signer.signature(signer.string_to_sign(areq, creq), areq)
    assert ours.endswith("Signature=" + sig)


def test_presign_and_chunk_signature_shape():
    creds = wire.Credentials("AKIDEXAMPLE", "secret")
    req = wire.Request("GET", "/b/k")
    req.set_header("Host", "h")
    wire.presign(req, creds, "us-east-1", 60, "20260101T000000Z")
    names = [k for k, _ in req.params]
    assert names[-1] == "X-Amz-Signature" and "X-Amz-Credential" in names
    assert len(dict(req.params)["X-Amz-Signature"]) == 64
    key = wire.signing_key("secret", "20260101", "us-east-1")
    s = wire.chunk_signature(key, "20260101T000000Z", "20260101/us-east-1/s3/aws4_request", "0" * 64, wire.EMPTY_SHA256)
    assert len(s) == 64


# ---------------------------------------------------------------- redaction


def test_redaction():
    auth = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "a" * 64)
    red = wire.redact_header("Authorization", auth)
    assert "a" * 64 not in red and "AKIAIOSFODNN7EXAMPLE" not in red and "Signature=<redacted>" in red
    assert wire.redact_header("x-amz-security-token", "tok") == "<redacted>"
    assert wire.redact_header("Content-Type", "text/plain") == "text/plain"
    t = wire.redact_target("/b/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1&X-Amz-Signature="
                           + "b" * 64 + "&X-Amz-Security-Token=abc")
    assert "b" * 64 not in t and "AKIAIOSFODNN7EXAMPLE" not in t and "abc" not in t
    assert report.scrub("Signature=" + "c" * 64 + " the-secret", ["the-secret"]) == "Signature=<redacted> <redacted>"
    assert "very-secret" not in repr(wire.Credentials("AKIAX", "very-secret"))


# ---------------------------------------------------------------- a fake server for outcome logic


class _Handler(BaseHTTPRequestHandler):
    store: dict[str, bytes] = {}
    seen: list[tuple[str, str, dict]] = []

    def log_message(self, *a):
        pass

    def _answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _err(self, status, code):
        self._answer(status, f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode(),
                     {"Content-Type": "application/xml"})

    def do_PUT(self):
        type(self).seen.append(("PUT", self.path, dict(self.headers)))
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        parts = self.path.split("?")[0].strip("/").split("/", 1)
        if len(parts) == 1:
            return self._answer(200)
        if "broken" in self.path:
            return self._answer(500, b"oops")
        self.store[self.path.split("?")[0]] = data
        self._answer(200, b"", {"ETag": '"' + hashlib.md5(data).hexdigest() + '"'})

    def do_GET(self):
        type(self).seen.append(("GET", self.path, dict(self.headers)))
        p = self.path.split("?")[0]
        if p in self.store:
            return self._answer(200, self.store[p], {"ETag": '"' + hashlib.md5(self.store[p]).hexdigest() + '"'})
        if "?list-type=2" in self.path or "list-type=2" in self.path:
            return self._answer(200, b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
        self._err(404, "NoSuchKey")

    do_HEAD = do_GET

    def do_DELETE(self):
        type(self).seen.append(("DELETE", self.path, dict(self.headers)))
        self.store.pop(self.path.split("?")[0], None)
        self._answer(204)


@pytest.fixture
def fake_server():
    _Handler.store = {}
    _Handler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _tc(tid, steps, setup=(), profile="core", reqs=("CPS-OBJ-005",)):
    data = {"id": tid, "title": tid, "profile": profile, "requirements": list(reqs), "steps": list(steps),
            "setup": list(setup)}
    return TestCase(tid, tid, profile, list(reqs), Location("x.yaml", 1, 1), "vector", data)


def _run(url, tests, **kw):
    cfg = Config(wire.Endpoint(url), wire.Credentials("AKIATEST", "s3cr3t-value"), kw.pop("profiles", ["core"]), **kw)
    run = Run(cfg, tests, None)
    run.execute()
    run.cleanup()
    return run


def test_outcomes_are_not_conflated(fake_server):
    put = {"op": "PutObject", "key": "${p}k", "body": "hello"}
    tests = [
        _tc("t-pass", [put, {"op": "GetObject", "key": "${p}k", "expect": {"status": 200, "body": "hello"}}]),
        _tc("t-fail", [put, {"op": "GetObject", "key": "${p}k", "expect": {"status": 200, "body": "other"}}]),
        _tc("t-blocked", [{"op": "GetObject", "key": "${p}k"}],
            setup=[{"op": "GetObject", "key": "${p}missing", "expect": {"status": 200}}]),
        _tc("t-error-vector", [{"op": "GetObject", "key": "${nosuchvar}"}]),
        _tc("t-server-500", [{"op": "PutObject", "key": "${p}broken", "body": "x", "expect": {"status": 200}}]),
        _tc("t-skipped", [put], profile="multipart"),
        _tc("t-filtered", [put]),
    ]
    run = _run(fake_server, tests, skip=["t-filtered"])
    got = {k: r.outcome for k, r in run.results.items()}
    assert got == {"t-pass": "pass", "t-fail": "fail", "t-blocked": "blocked", "t-error-vector": "error",
                   "t-server-500": "fail", "t-skipped": "skipped", "t-filtered": "skipped"}
    assert "prerequisite failed" in run.results["t-blocked"].message
    assert "unknown variable" in run.results["t-error-vector"].message
    assert "profile multipart not claimed" in run.results["t-skipped"].message
    # everything the run wrote was removed
    assert _Handler.store == {}


def test_network_failure_is_error_not_fail():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    run = _run(f"http://127.0.0.1:{port}", [_tc("t-net", [{"op": "GetObject", "key": "k"}])])
    assert run.results["t-net"].outcome == "error"
    assert "connection refused" in run.results["t-net"].message
    assert run.setup_error


def test_alternative_expectations(fake_server):
    tests = [
        _tc("t-alt-ok", [{"op": "GetObject", "key": "${p}none",
                          "expect": {"any_of": [{"status": 200}, {"status": 404, "error": "NoSuchKey"}]}}]),
        _tc("t-alt-bad", [{"op": "GetObject", "key": "${p}none",
                           "expect": {"any_of": [{"status": 200}, {"status": 404, "error": "NoSuchBucket"}]}}]),
    ]
    run = _run(fake_server, tests)
    assert run.results["t-alt-ok"].outcome == "pass"
    assert run.results["t-alt-bad"].outcome == "fail"
    assert "none of the allowed answers" in run.results["t-alt-bad"].message


def test_wire_sends_no_checksum_or_retry(fake_server):
    run = _run(fake_server, [_tc("t-put", [{"op": "PutObject", "key": "${p}k", "body": {"generate": 3000000, "seed": "w"}}])])
    assert run.results["t-put"].outcome == "pass"
    puts = [h for m, p, h in _Handler.seen if m == "PUT" and p.endswith("/k")]
    assert len(puts) == 1  # sent once
    hdrs = {k.lower() for k in puts[0]}
    assert not any(h.startswith("x-amz-checksum") for h in hdrs)
    assert "content-encoding" not in hdrs and "x-amz-trailer" not in hdrs
    assert puts[0]["Content-Length"] == "3000000"


# ---------------------------------------------------------------- verdicts and writers


def _results():
    mk = lambda tid, prof, out, reqs, level="must": TestResult(_tc(tid, [], profile=prof, reqs=reqs), out, f"{out} msg", 0.01, [
        {"title": "GetObject", "phase": "test",
         "request": {"method": "GET", "target": "/b/k", "headers": [["Authorization", "AWS4-HMAC-SHA256 Signature=<redacted>"]],
                     "body_length": 0, "body_preview": ""},
         "response": {"status": 500, "reason": "Internal", "headers": [["Content-Type", "application/xml"]],
                      "body_length": 5, "body_preview": "<a/>"},
         "failures": ["status: expected 200, got 500"]}], level)
    return [mk("a-pass", "core", "pass", ["CPS-OBJ-005"]), mk("a-fail", "core", "fail", ["CPS-OBJ-005", "CPS-OBJ-036"]),
            mk("a-block", "multipart", "blocked", ["CPS-MPU-013"]), mk("a-err", "multipart", "error", ["CPS-MPU-001"]),
            mk("a-skip", "cors", "skipped", ["CPS-CORS-005"]), mk("a-should", "core", "fail", ["CPS-OBJ-039"], "should")]


def test_verdicts():
    rs = _results()
    pv = profile_verdicts(rs, ["core", "multipart"], False)
    assert pv["core"]["verdict"] == "does-not-conform"
    assert pv["core"]["deviations"] == ["a-should"]
    assert pv["multipart"]["verdict"] == "inconclusive"
    assert exit_code(pv, False) == 1
    only_pass = [r for r in rs if r.test.id == "a-pass"]
    assert exit_code(profile_verdicts(only_pass, ["core"], False), False) == 0
    skipped_only = [r for r in rs if r.outcome == "skipped"]
    pv2 = profile_verdicts(skipped_only, ["cors"], False)
    assert pv2["cors"]["verdict"] == "incomplete" and exit_code(pv2, False) == 1  # skipped never counts as passed
    rv = requirement_verdicts(rs, None)
    assert rv["CPS-OBJ-005"]["verdict"] == "fail" and rv["CPS-MPU-013"]["verdict"] == "blocked"
    assert rv["CPS-MPU-001"]["verdict"] == "error" and rv["CPS-CORS-005"]["verdict"] == "skipped"


class _FakeRun:
    def __init__(self, results):
        self.tests = [r.test for r in results]
        self.results = {r.test.id: r for r in results}
        self.config = Config(wire.Endpoint("http://127.0.0.1:1"), wire.Credentials("AKIATESTKEY", "the-secret-key"),
                             ["core", "multipart", "cors"])
        self.started = self.finished = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        self.interrupted = False
        self.cleanup_report = []


def test_writers(tmp_path):
    import jsonschema

    from cps.conformance.reqs import load_spec

    spec = load_spec(ROOT)
    result = report.build_result(_FakeRun(_results()), spec, {"endpoint": "http://127.0.0.1:1", "implementation": "fake"})
    paths = report.write_reports(result, tmp_path, ["the-secret-key"], spec)
    data = json.loads(paths[0].read_text())
    schema = json.loads((ROOT / "schemas" / "conformance-result.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["summary"]["pass"] == 1 and data["summary"]["fail"] == 2 and data["summary"]["skipped"] == 1
    assert data["summary"]["conforms"] is False
    assert data["configuration"]["secret_access_key"] == "<redacted>"
    junit = ET.parse(paths[1]).getroot()
    assert junit.tag == "testsuites" and junit.get("failures") == "2" and junit.get("skipped") == "1"
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert cases["a-fail"].find("failure") is not None
    assert cases["a-block"].find("error").get("type") == "blocked"
    assert cases["a-skip"].find("skipped") is not None
    html = paths[2].read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html and "<img" not in html
    site = "https://cloud-portable.github.io/storage/"
    req = spec.requirement("CPS-OBJ-036") if hasattr(spec, "requirement") else None
    if req is not None:
        assert f'href="{site}draft/{req.doc}/#CPS-OBJ-036"' in html
    assert "status: expected 200, got 500" in html
    for p in paths:
        text = p.read_text()
        assert "the-secret-key" not in text and "AKIATESTKEY" not in text


def test_catalogue_is_valid():
    tests, diags = load_tests(ROOT)
    assert diags == []
    ids = [t.id for t in tests]
    assert len(ids) == len(set(ids)) and len(ids) > 20
    assert all(t.requirements for t in tests)


def test_not_applicable_does_not_make_profile_incomplete(fake_server):
    put = {"op": "PutObject", "key": "${p}k", "body": "hello"}
    t1 = _tc("t-ok", [put])
    t2 = _tc("t-needs-other", [put])
    t2.needs = ["second-identity"]
    run = _run(fake_server, [t1, t2])
    assert run.results["t-needs-other"].outcome == "skipped"
    assert run.results["t-needs-other"].message.startswith("not applicable")
    pv = profile_verdicts(list(run.results.values()), ["core"], False)
    assert pv["core"]["verdict"] == "conforms"


@pytest.mark.parametrize("signed, trailer", [(False, "x-amz-checksum-crc32"), (False, None), (True, None), (True, "x-amz-checksum-crc32")])
@pytest.mark.parametrize("size", [0, 1, 1000, 65536, 200001])
def test_aws_chunked_length_is_exact(signed, trailer, size):
    from cps.conformance.runner import Body, _chunked_frames

    body = Body(seed="len", size=size)
    sig = {"key": b"k" * 32, "timestamp": "20260101T000000Z", "scope": "20260101/us-east-1/s3/aws4_request",
           "seed": lambda: "0" * 64} if signed else None
    gen, length = _chunked_frames(body, 65536, trailer, "AAAAAA==" if trailer else None, sig)
    data = b"".join(gen())
    assert len(data) == length
    assert data.endswith(b"\r\n\r\n")
    # unframing gives the data back
    out, rest = b"", data
    while True:
        line, rest = rest.split(b"\r\n", 1)
        n = int(line.split(b";")[0], 16)
        if n == 0:
            break
        out, rest = out + rest[:n], rest[n + 2:]
    assert out == b"".join(body.chunks())


def test_virtual_host_addressing():
    ep = wire.Endpoint("http://127.0.0.1:9000/prefix", addressing="virtual")
    assert wire.address(ep, "bkt", "a/b") == ("bkt.127.0.0.1:9000", "/prefix/a/b")
    ep2 = wire.Endpoint("http://127.0.0.1:9000")
    assert wire.address(ep2, "bkt", "a b") == ("127.0.0.1:9000", "/bkt/a b")
    req = wire.Request("GET", "/bkt/a b+c", [("uploads", None), ("prefix", "x/y")])
    assert req.target() == "/bkt/a%20b%2Bc?prefix=x%2Fy&uploads"


def test_schemas_are_valid_json_schema():
    import jsonschema

    for name in ("conformance-vector.schema.json", "conformance-result.schema.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads((ROOT / "schemas" / name).read_text()))


def test_streaming_signatures_match_the_aws_example():
    """The chunked-upload example of the AWS S3 API Reference (seed and chunk signatures)."""
    creds = wire.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    req = wire.Request("PUT", "/examplebucket/chunkObject.txt")
    for k, v in [("Host", "s3.amazonaws.com"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                 ("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"),
                 ("Content-Length", "66824")]:
        req.set_header(k, v)
    seed = wire.sign_header(req, creds, "us-east-1", wire.STREAMING_SIGNED, "20130524T000000Z",
                            signed_names=["content-encoding", "content-length", "host", "x-amz-content-sha256",
                                          "x-amz-date", "x-amz-decoded-content-length", "x-amz-storage-class"])
    assert seed == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    key = wire.signing_key(creds.secret_key, "20130524", "us-east-1")
    scope = "20130524/us-east-1/s3/aws4_request"
    s1 = wire.chunk_signature(key, "20130524T000000Z", scope, seed, hashlib.sha256(b"a" * 65536).hexdigest())
    s2 = wire.chunk_signature(key, "20130524T000000Z", scope, s1, hashlib.sha256(b"a" * 1024).hexdigest())
    s3 = wire.chunk_signature(key, "20130524T000000Z", scope, s2, wire.EMPTY_SHA256)
    assert (s1, s2, s3) == ("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")


def test_presigned_url_matches_the_aws_example():
    creds = wire.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    req = wire.Request("GET", "/test.txt")
    req.set_header("Host", "examplebucket.s3.amazonaws.com")
    wire.presign(req, creds, "us-east-1", expires=86400, timestamp="20130524T000000Z")
    assert dict(req.params)["X-Amz-Signature"] == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"


def test_key_of_1024_bytes_is_exactly_1024_bytes():
    """obj-key-1024-bytes relies on the length of the test's key prefix (40 bytes)."""
    run = Run(Config(wire.Endpoint("http://127.0.0.1:1"), wire.Credentials("A", "S"), ["core"]), [], None)
    tests, _ = load_tests(ROOT)
    t = next(t for t in tests if t.id == "obj-key-1024-bytes")
    key = substitute(t.data["steps"][0]["key"], {"p": f"{run.prefix}{t.id}/"})
    assert len(key.encode("utf-8")) == 1024
