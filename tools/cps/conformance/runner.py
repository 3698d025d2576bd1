"""Run conformance tests against an endpoint and decide each test's outcome.

Outcomes, never conflated:

* ``pass``: every step met its expectations;
* ``fail``: a step (not a setup step) did not: the server does not do what the requirement says;
* ``blocked``: a setup step (a prerequisite) did not meet its expectations, so the test could not
  verify anything;
* ``skipped``: not run (filtered by --only/--skip, outside the claimed profiles, needs a bucket of
  its own while --bucket was given, or the run was interrupted);
* ``error``: the runner or the network failed (connection refused, timeout, a bug in a vector).

Each test works under its own key prefix (``${p}``) in the run's bucket, so tests run in
parallel. Everything the run creates (buckets, objects, multipart uploads) is removed at the end,
also after Ctrl-C.
"""

from __future__ import annotations

import base64
import datetime as _dt
import fnmatch
import hashlib
import re
import secrets
import threading
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from cps.conformance import datagen, wire
from cps.conformance.catalog import TestCase
from cps.conformance.matcher import MatcherError, XmlError, match, parse_xml, xml_path, describe, local

OUTCOMES = ("pass", "fail", "blocked", "skipped", "error")
NOT_APPLICABLE = "not applicable"  # skip reason of tests that cannot apply to the endpoint (e.g. TLS on http)

# operation -> (method, addresses a key?, fixed query parameters)
OPERATIONS: dict[str, tuple[str, bool, list[tuple[str, str | None]]]] = {
    "ListBuckets": ("GET", False, []),
    "CreateBucket": ("PUT", False, []),
    "DeleteBucket": ("DELETE", False, []),
    "HeadBucket": ("HEAD", False, []),
    "GetBucketLocation": ("GET", False, [("location", None)]),
    "PutObject": ("PUT", True, []),
    "GetObject": ("GET", True, []),
    "HeadObject": ("HEAD", True, []),
    "DeleteObject": ("DELETE", True, []),
    "CopyObject": ("PUT", True, []),
    "DeleteObjects": ("POST", False, [("delete", None)]),
    "ListObjectsV2": ("GET", False, [("list-type", "2")]),
    "ListObjects": ("GET", False, []),
    "CreateMultipartUpload": ("POST", True, [("uploads", None)]),
    "UploadPart": ("PUT", True, []),
    "UploadPartCopy": ("PUT", True, []),
    "CompleteMultipartUpload": ("POST", True, []),
    "AbortMultipartUpload": ("DELETE", True, []),
    "ListParts": ("GET", True, []),
    "ListMultipartUploads": ("GET", False, [("uploads", None)]),
    "PutBucketCors": ("PUT", False, [("cors", None)]),
    "GetBucketCors": ("GET", False, [("cors", None)]),
    "DeleteBucketCors": ("DELETE", False, [("cors", None)]),
}


# The bucket configuration of spec/11-cors.md (#cors-test-configuration), as a PutBucketCors body.
CORS_TEST_ORIGIN = "https://app.cps-test.example"
CORS_TEST_CONFIGURATION = (
    '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule>'
    f"<AllowedOrigin>{CORS_TEST_ORIGIN}</AllowedOrigin>"
    + "".join(f"<AllowedMethod>{m}</AllowedMethod>" for m in ("GET", "PUT", "POST", "DELETE", "HEAD"))
    + "<AllowedHeader>*</AllowedHeader>"
    + "".join(f"<ExposeHeader>{h}</ExposeHeader>" for h in ("ETag", "x-amz-version-id", "x-amz-request-id"))
    + "<MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>"
)


class VectorError(Exception):
    """The vector cannot be executed as written (unknown variable, bad matcher): outcome error."""


class Failed(Exception):
    """A verified step did not meet its expectations."""


class Blocked(Exception):
    """A prerequisite did not hold."""


class Interrupted(Exception):
    pass


class Skipped(Exception):
    """A code-based test that does not apply to this endpoint (message starts with "not applicable")."""


@dataclass
class Config:
    endpoint: wire.Endpoint
    credentials: wire.Credentials
    profiles: list[str]  # claimed profiles, closure included
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    jobs: int = 4
    bucket: str | None = None  # a given bucket (managed out of band)
    cors_bucket: str | None = None  # a bucket with the CORS test configuration (set up out of band)
    alt_credentials: wire.Credentials | None = None  # a second identity that owns none of the run's buckets
    large: bool = False  # run the tests that move objects over 5 GiB
    progress: bool = False

    def redacted(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint.url,
            "region": self.endpoint.region,
            "addressing": self.endpoint.addressing,
            "access_key_id": wire.redact_access_key(self.credentials.access_key),
            "secret_access_key": "<redacted>",
            "session_token": "<redacted>" if self.credentials.token else None,
            "profiles": list(self.profiles),
            "only": list(self.only),
            "skip": list(self.skip),
            "jobs": self.jobs,
            "bucket": self.bucket,
            "cors_bucket": self.cors_bucket,
            "second_identity": (wire.redact_access_key(self.alt_credentials.access_key)
                                if self.alt_credentials else None),
            "large": self.large,
        }


@dataclass
class TestResult:
    test: TestCase
    outcome: str
    message: str = ""
    duration: float = 0.0
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    level: str = "must"  # must | should | may: the strongest keyword among the cited requirements

    __test__ = False


MUST_WORDS = {"MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT"}
SHOULD_WORDS = {"SHOULD", "SHOULD NOT", "RECOMMENDED", "NOT RECOMMENDED"}


def test_level(test: TestCase, spec) -> str:
    """must when any cited requirement is absolute (or unknown); should; may."""
    if spec is None:
        return "must"
    words = set()
    for rid in test.requirements:
        r = next((x for x in spec.requirements if x.id == rid), None)
        kw = getattr(r, "keyword", None) if r is not None else None
        words.add(kw or "MUST")
    if words & MUST_WORDS:
        return "must"
    if words & SHOULD_WORDS:
        return "should"
    return "may"


# ---------------------------------------------------------------- templating

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*|(?:md5|md5b64|sha256|crc32|repeat):[^:}]*:\d+)\}")


def substitute(value: Any, env: dict[str, Any]) -> Any:
    """Replace ``${name}`` by a variable, ``${md5:SEED:SIZE}`` (also ``md5b64``, ``sha256``,
    ``crc32``) by the digest of generated data, and ``${repeat:TEXT:N}`` by TEXT N times."""
    if isinstance(value, str):
        def rep(m):
            name = m.group(1)
            if ":" in name:
                fn, seed, size = name.split(":")
                if fn == "repeat":
                    return seed * int(size)
                d = _cached_digest(seed, int(size))
                return {"md5": d["md5"], "md5b64": _b64md5(d["md5"]), "sha256": d["sha256"], "crc32": d["crc32"]}[fn]
            if name not in env:
                raise VectorError(f"unknown variable ${{{name}}}")
            return str(env[name])
        return _VAR.sub(rep, value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- bodies


@dataclass
class Body:
    """A request body: literal bytes or a generated stream, with its digests (computed lazily)."""

    data: bytes | None = None
    seed: str | None = None
    size: int = 0

    @property
    def length(self) -> int:
        return len(self.data) if self.data is not None else self.size

    def chunks(self, chunk: int = 1 << 20):
        if self.data is not None:
            for i in range(0, len(self.data), chunk):
                yield self.data[i:i + chunk]
        else:
            yield from datagen.blocks(self.seed or "", self.size, chunk)

    def digests(self) -> dict[str, str]:
        if self.data is not None:
            return {"sha256": hashlib.sha256(self.data).hexdigest(), "md5": hashlib.md5(self.data).hexdigest(),
                    "crc32": base64.b64encode(zlib.crc32(self.data).to_bytes(4, "big")).decode()}
        return _cached_digest(self.seed or "", self.size)

    def preview(self, n: int = wire.PREVIEW_REQUEST) -> bytes:
        if self.data is not None:
            return self.data[:n]
        return datagen.head(self.seed or "", self.size, n)


_digest_cache: dict[tuple[str, int], dict[str, str]] = {}
_digest_lock = threading.Lock()


def _cached_digest(seed: str, size: int) -> dict[str, str]:
    k = (seed, size)
    with _digest_lock:
        if k in _digest_cache:
            return _digest_cache[k]
    d = datagen.digest(seed, size)
    with _digest_lock:
        _digest_cache[k] = d
    return d


def make_body(spec: Any) -> Body | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return Body(data=spec.encode("utf-8"))
    if isinstance(spec, dict) and "generate" in spec:
        return Body(seed=str(spec.get("seed", "cps")), size=int(spec["generate"]))
    if isinstance(spec, dict) and "hex" in spec:
        return Body(data=bytes.fromhex(spec["hex"]))
    if isinstance(spec, (bytes, bytearray)):
        return Body(data=bytes(spec))
    raise VectorError(f"bad body {spec!r}")


def _b64md5(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


def _chunked_frames(body: Body, chunk_size: int, trailer: str | None, trailer_value: str | None,
                    signed: dict[str, Any] | None, opts: dict[str, Any] | None = None):
    """aws-chunked framing of ``body``; returns (factory of byte pieces, total length).

    ``signed`` = {key, timestamp, scope, seed}: chunk signatures (and a trailer signature when
    there is a trailer). ``opts`` breaks the framing on purpose: ``tamper_chunk`` (index of the
    chunk whose signature is wrong), ``omit_trailer``, ``malform`` (bad-size-line |
    no-final-chunk | short-chunk).
    """
    opts = opts or {}
    tamper = opts.get("tamper_chunk")
    malform = opts.get("malform")

    def frames():
        prev = signed["seed"]() if signed else None
        for i, piece in enumerate(body.chunks(chunk_size)):
            size_line = f"{len(piece):x}"
            if malform == "bad-size-line" and i == 0:
                size_line = "zz"
            data = piece
            if malform == "short-chunk" and i == 0:
                data = piece[:-1]
            if signed:
                prev = wire.chunk_signature(signed["key"], signed["timestamp"], signed["scope"], prev,
                                            hashlib.sha256(piece).hexdigest())
                sig = prev if tamper != i else "0" * 64
                yield f"{size_line};chunk-signature={sig}\r\n".encode() + data + b"\r\n"
            else:
                yield f"{size_line}\r\n".encode() + data + b"\r\n"
        if malform == "no-final-chunk":
            return
        if signed:
            prev = wire.chunk_signature(signed["key"], signed["timestamp"], signed["scope"], prev, wire.EMPTY_SHA256)
            yield f"0;chunk-signature={prev}\r\n".encode()
            if trailer and not opts.get("omit_trailer"):
                lines = f"{trailer}:{trailer_value}\n"
                tsig = wire.trailer_signature(signed["key"], signed["timestamp"], signed["scope"], prev, lines)
                if opts.get("wrong_trailer_signature"):
                    tsig = "0" * 64
                yield f"{trailer}:{trailer_value}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode()
            else:
                yield b"\r\n"
        elif trailer and not opts.get("omit_trailer"):
            yield f"0\r\n{trailer}:{trailer_value}\r\n\r\n".encode()
        else:
            yield b"0\r\n\r\n"

    # the length is arithmetic for well-formed framing; for broken framing the caller measures it
    if tamper is not None or malform or opts.get("omit_trailer") or opts.get("wrong_trailer_signature"):
        return frames, None
    full, rest = divmod(body.length, chunk_size)
    sizes = [chunk_size] * full + ([rest] if rest else [])
    if signed:
        length = sum(len(f"{x:x}") + 17 + 64 + 2 + x + 2 for x in sizes) + 1 + 17 + 64 + 2
        if trailer:
            length += len(f"{trailer}:{trailer_value}\r\n") + len("x-amz-trailer-signature:") + 64 + 4
        else:
            length += 2
    else:
        length = sum(len(f"{x:x}") + 2 + x + 2 for x in sizes)
        length += len(f"0\r\n{trailer}:{trailer_value}\r\n\r\n") if trailer else 5
    return frames, length


# ---------------------------------------------------------------- the run


class Run:
    def __init__(self, config: Config, tests: list[TestCase], spec=None):
        self.config = config
        self.tests = tests
        self.spec = spec
        self.run_id = _dt.datetime.now(_dt.timezone.utc).strftime("%m%d%H%M%S") + secrets.token_hex(3)
        self.bucket = config.bucket or f"cps-{self.run_id}"
        self.prefix = f"cps-{self.run_id}/"
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._counter = 0
        self.created_buckets: list[str] = []
        self.written: set[tuple[str, str]] = set()
        self.uploads: set[tuple[str, str, str]] = set()
        self.results: dict[str, TestResult] = {}
        self.started = None
        self.finished = None
        self.interrupted = False
        self.bucket_may_exist = False  # set when the run's CreateBucket was (or may have been) sent
        self.setup_error: str | None = None
        self.cleanup_report: list[str] = []
        self._done = 0

    # ------------------------------------------------------------ naming

    def unique(self, tag: str) -> str:
        with self._lock:
            self._counter += 1
            n = self._counter
        return f"cps-{self.run_id}-{tag}{n}"

    # ------------------------------------------------------------ selection

    def selection(self) -> tuple[list[TestCase], dict[str, str]]:
        """Tests to run, and skip reasons for the others."""
        run, skipped = [], {}

        def hit(t: TestCase, pats: list[str]) -> bool:
            for p in pats:
                if p.upper().startswith("CPS-"):
                    if any(fnmatch.fnmatchcase(r, p.upper()) for r in t.requirements):
                        return True
                elif fnmatch.fnmatchcase(t.id, p):
                    return True
            return False

        for t in self.tests:
            if t.profile not in self.config.profiles:
                skipped[t.id] = f"profile {t.profile} not claimed"
            elif self.config.only and not hit(t, self.config.only):
                skipped[t.id] = "not selected by --only"
            elif self.config.skip and hit(t, self.config.skip):
                skipped[t.id] = "excluded by --skip"
            elif t.bucket == "fresh" and self.config.bucket:
                skipped[t.id] = "needs a bucket of its own; --bucket was given"
            elif t.bucket == "cors" and self.config.bucket and not self.config.cors_bucket:
                skipped[t.id] = "needs a bucket with the CORS test configuration; give --cors-bucket"
            elif "second-identity" in t.needs and self.config.alt_credentials is None:
                skipped[t.id] = (f"{NOT_APPLICABLE}: needs a second identity (--alt-access-key/--alt-secret-key) "
                                 "that owns none of the run's buckets")
            elif "large-objects" in t.needs and not self.config.large:
                skipped[t.id] = f"{NOT_APPLICABLE}: moves objects over 5 GiB; run with --large"
            elif any(p not in self.config.profiles for p in t.needs_profiles):
                missing = [p for p in t.needs_profiles if p not in self.config.profiles]
                skipped[t.id] = f"{NOT_APPLICABLE}: profile {', '.join(missing)} not claimed"
            else:
                run.append(t)
        return run, skipped

    # ------------------------------------------------------------ requests

    def build(self, step: dict[str, Any], env: dict[str, Any]) -> tuple[wire.Request, str, Body | None, dict]:
        # expectations are substituted when checked, after this response's captures
        step = {k: (v if k in ("expect", "capture", "only_if", "unless") else substitute(v, env)) for k, v in step.items()}
        if "op" in step:
            op = step["op"]
            if op not in OPERATIONS:
                raise VectorError(f"unknown operation {op}")
            method, has_key, fixed = OPERATIONS[op]
        else:
            op = None
            method, has_key, fixed = step["http"]["method"], "key" in step, []
        if op == "ListBuckets":
            bucket = None
        elif "bucket" in step:
            bucket = step["bucket"]
        else:
            bucket = env.get("bucket")
        key = step.get("key") if has_key or "key" in step else None
        if has_key and key is None:
            raise VectorError(f"{op} needs a key")
        host, path = wire.address(self.config.endpoint, bucket, key)
        params = list(fixed)
        for k, v in (step.get("query") or {}).items():
            params.append((k, None if v is None else str(v)))
        if "upload_id" in step:
            params.append(("uploadId", step["upload_id"]))
        if "part_number" in step:
            params.append(("partNumber", str(step["part_number"])))
        if "raw_query" in step:  # the query exactly as sent; the operation's fixed parameters are not added
            from urllib.parse import unquote as _unq
            params = []
            for pair in str(step["raw_query"]).split("&"):
                if pair:
                    k, eq, v = pair.partition("=")
                    params.append((_unq(k), _unq(v) if eq else None))
        req = wire.Request(method, path, params)
        if "raw_query" in step:
            req.raw_query = str(step["raw_query"])
        if "raw_path" in step:
            req.raw_path = step["raw_path"]
        if step.get("omit_headers"):
            req.omit = tuple(step["omit_headers"])
        if step.get("transfer_encoding") == "chunked":
            req.chunked = True
        for k, v in (step.get("headers") or {}).items():
            req.headers.append((k, str(v)))
        if "copy_source" in step:
            src = step["copy_source"]
            b, _, k = src.lstrip("/").partition("/")
            req.set_header("x-amz-copy-source", "/" + quote(b, safe="") + "/" + quote(k, safe="/-_.~"))
        body = make_body(step.get("body"))
        auto_md5 = False
        if op == "DeleteObjects" and body is None:
            keys = list(step.get("delete") or [])
            gen = step.get("delete_generated")
            if gen:
                keys += [f"{gen.get('prefix', '')}{i}" for i in range(int(gen["count"]))]
            objs = "".join(f"<Object><Key>{xml_escape(k)}</Key></Object>" for k in keys)
            quiet = "<Quiet>true</Quiet>" if step.get("quiet") else ""
            body = Body(data=f'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{quiet}{objs}</Delete>'.encode())
            auto_md5 = True
        if op == "CompleteMultipartUpload" and body is None and "parts" in step:
            parts = "".join(f"<Part><PartNumber>{p['part']}</PartNumber><ETag>{xml_escape(str(p['etag']))}</ETag></Part>"
                            for p in step["parts"])
            body = Body(data=f'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{parts}</CompleteMultipartUpload>'.encode())
        md5 = step.get("content_md5", "auto" if auto_md5 and req.header("Content-MD5") is None
                       and not step.get("checksum_crc32") else None)
        if md5 == "auto":
            req.set_header("Content-MD5", _b64md5((body or Body(data=b"")).digests()["md5"]))
        elif md5 == "wrong":
            req.set_header("Content-MD5", _b64md5(hashlib.md5(b"not the body").hexdigest()))
        crc = step.get("checksum_crc32")
        if crc == "auto":
            req.set_header("x-amz-checksum-crc32", (body or Body(data=b"")).digests()["crc32"])
        elif crc == "wrong":
            req.set_header("x-amz-checksum-crc32", base64.b64encode(zlib.crc32(b"not the body").to_bytes(4, "big")).decode())
        return req, host, body, step

    def sign_and_attach(self, req: wire.Request, host: str, body: Body | None, step: dict) -> None:
        cfg = self.config
        creds = cfg.credentials
        region = step.get("region") or cfg.endpoint.region
        auth = step.get("auth", "header")
        req.set_header("Host", host)
        chunked = step.get("aws_chunked")
        if auth == "wrong-secret":
            creds = wire.Credentials(creds.access_key, creds.secret_key + "-wrong", creds.token)
        elif auth == "second-identity":
            if cfg.alt_credentials is None:
                raise VectorError("auth: second-identity needs --alt-access-key/--alt-secret-key")
            creds = cfg.alt_credentials
        elif auth == "unknown-key":
            creds = wire.Credentials("AKIACPSUNKNOWNKEY000", creds.secret_key, creds.token)
        now = _dt.datetime.now(_dt.timezone.utc)
        skew = {"skewed-date": -30, "skewed-date-future": 30, "skewed-date-small": -10}.get(auth)
        ts = wire.amz_date(now + _dt.timedelta(minutes=skew)) if skew is not None else wire.amz_date(now)
        sign_opts: dict[str, Any] = {}
        if step.get("signed_headers") is not None:
            sign_opts["signed_names"] = step["signed_headers"]
        if step.get("scope_date"):
            sign_opts["scope_date"] = step["scope_date"]
        if chunked is not None:
            if body is None:
                body = Body(data=b"")
            chunk_size = int(chunked.get("chunk_size", 65536))
            signed = bool(chunked.get("signed"))
            default_trailer = "none" if signed else "x-amz-checksum-crc32"
            trailer = chunked.get("trailer", default_trailer)
            trailer = None if trailer == "none" else trailer
            tval = None
            if trailer:
                tval = body.digests()["crc32"]
                if chunked.get("wrong_trailer"):
                    tval = base64.b64encode(zlib.crc32(b"not the body").to_bytes(4, "big")).decode()
            if chunked.get("content_encoding", True):
                enc = req.header("Content-Encoding")
                req.set_header("Content-Encoding", "aws-chunked" + (f",{enc}" if enc else ""))
            req.set_header("x-amz-decoded-content-length", str(body.length + int(chunked.get("decoded_length_delta", 0))))
            if trailer:
                req.set_header("x-amz-trailer", trailer)
            scope = f"{ts[:8]}/{region}/s3/aws4_request"
            holder: dict[str, str] = {}
            sig_ctx = {"key": wire.signing_key(creds.secret_key, ts[:8], region), "timestamp": ts, "scope": scope,
                       "seed": lambda: holder["sig"]} if signed else None
            gen, length = _chunked_frames(body, chunk_size, trailer, tval, sig_ctx, chunked)
            if signed:
                mode = wire.STREAMING_SIGNED_TRAILER if trailer else wire.STREAMING_SIGNED
            else:
                mode = wire.STREAMING_UNSIGNED_TRAILER
            if length is None:  # unusual framing: sign with a placeholder length, then measure
                holder["sig"] = "0" * 64
                length = sum(len(f) for f in gen())
            req.set_header("Content-Length", str(length))
            req.body, req.body_length = gen, length
            if auth != "none":
                holder["sig"] = wire.sign_header(req, creds, region, mode, ts, **sign_opts)
            else:
                holder.setdefault("sig", "0" * 64)
            # the report shows the framing as sent: the first frame (size line, data...)
            first = next(iter(gen()), b"")
            req.body_preview = first[:wire.PREVIEW_REQUEST]
            self._after_sign(req, step)
            return
        if body is not None:
            req.body = body.data if body.data is not None else body.chunks
            req.body_length = body.length
            req.body_preview = body.preview()
        if auth == "none":
            self._after_sign(req, step)
            return
        if auth in ("presigned", "expired-presign", "presigned-old"):
            req.del_header("Host")
            expires = int(step.get("expires", 900))
            if auth == "expired-presign":
                wire.presign(req, creds, region, expires=60, timestamp=wire.amz_date(now - _dt.timedelta(hours=2)))
            elif auth == "presigned-old":  # signed 30 minutes ago, valid for an hour
                wire.presign(req, creds, region, expires=3600, timestamp=wire.amz_date(now - _dt.timedelta(minutes=30)))
            else:
                wire.presign(req, creds, region, expires=expires, timestamp=ts)
            req.set_header("Host", host)
            self._after_sign(req, step)
            return
        ph = step.get("payload_hash", "sha256")
        send_ph = True
        if ph in ("sha256", "absent"):
            send_ph = ph != "absent"
            ph = (body.digests()["sha256"] if body is not None else wire.EMPTY_SHA256)
        elif ph == "unsigned":
            ph = wire.UNSIGNED_PAYLOAD
        elif ph == "wrong":
            ph = hashlib.sha256(b"not the body").hexdigest()
        wire.sign_header(req, creds, region, ph, ts, send_payload_header=send_ph, **sign_opts)
        self._after_sign(req, step)

    @staticmethod
    def _after_sign(req: wire.Request, step: dict) -> None:
        """Changes made after signing: extra or altered headers, edits of Authorization, query."""
        for k, v in (step.get("after_sign_headers") or {}).items():
            if v is None:
                req.del_header(k)
            else:
                req.set_header(k, str(v))
        for edit in step.get("auth_edit") or []:
            a = req.header("Authorization")
            if a is not None:
                req.set_header("Authorization", re.sub(edit["regex"], edit.get("replace", ""), a))
        for k, v in (step.get("after_sign_query") or {}).items():
            req.params = [(pk, pv) for pk, pv in req.params if pk != k]
            if v is not None:
                req.params.append((k, str(v)))

    def exchange(self, step: dict[str, Any], env: dict[str, Any]) -> tuple[wire.Response, dict[str, Any]]:
        if self.cancel.is_set():
            raise Interrupted()
        if step.get("wait"):
            time.sleep(float(step["wait"]))
        req, host, body, step = self.build(step, env)
        self.sign_and_attach(req, host, body, step)
        record = {
            "title": step.get("title") or step.get("op") or step["http"]["method"],
            "request": {
                "method": req.method,
                "target": wire.redact_target(req.target()),
                "headers": [[k, wire.redact_header(k, v)] for k, v in req.headers],
                "body_length": req.body_length or 0,
                "body_preview": _preview(req.body_preview, req.header("Content-Type")),
            },
        }
        try:
            resp = wire.send(self.config.endpoint, req, host, read_body=True)
        except wire.WireError as exc:
            record["error"] = str(exc)
            raise
        record["response"] = {
            "status": resp.status,
            "reason": resp.reason,
            "elapsed_s": round(resp.elapsed, 4),
            "headers": [[k, wire.redact_header(k, v)] for k, v in resp.headers],
            "body_length": resp.length,
            "body_preview": _preview(resp.body[:wire.PREVIEW_RESPONSE], resp.header("Content-Type")),
        }
        self._track(step, req, resp, env)
        return resp, record

    def _track(self, step: dict, req: wire.Request, resp: wire.Response, env: dict) -> None:
        if not 200 <= resp.status < 300:
            return
        op = step.get("op")
        bucket = step.get("bucket", env.get("bucket"))
        with self._lock:
            if op == "CreateBucket" and bucket and bucket not in self.created_buckets:
                self.created_buckets.append(bucket)
            elif op == "CreateMultipartUpload":
                try:
                    uid = xml_path(parse_xml(resp.body), "UploadId")
                except (XmlError, MatcherError):
                    uid = None
                if uid:
                    self.uploads.add((bucket, step["key"], uid))
            elif req.method in ("PUT", "POST") and step.get("key") is not None and bucket:
                self.written.add((bucket, step["key"]))

    # ------------------------------------------------------------ expectations

    def check(self, expect: dict[str, Any] | None, resp: wire.Response, env: dict) -> list[str]:
        expect = substitute(expect or {"status": {"ge": 200, "lt": 300}}, env)
        if "any_of" in expect:
            alternatives = expect["any_of"]
            base = {k: v for k, v in expect.items() if k != "any_of"}
            failures = self.check(base, resp, env) if base else []
            if failures:
                return failures
            reasons = []
            for i, alt in enumerate(alternatives):
                f = self.check(alt, resp, env)
                if not f:
                    return []
                reasons.append(f"alternative {i + 1}: " + "; ".join(f))
            return ["none of the allowed answers: " + " | ".join(reasons)]
        failures: list[str] = []
        st = expect.get("status")
        if st is not None:
            if isinstance(st, list):
                if resp.status not in [int(s) for s in st]:
                    failures.append(f"status: expected one of {st}, got {resp.status}")
            elif isinstance(st, dict):
                why = match(st, resp.status)
                if why:
                    failures.append(f"status: {why}")
            elif int(st) != resp.status:
                failures.append(f"status: expected {st}, got {resp.status}")
        root = None
        xml_problem = None
        if "error" in expect or "xml" in expect:
            try:
                root = parse_xml(resp.body)
            except XmlError as exc:
                xml_problem = str(exc)
        if "error" in expect:
            if xml_problem or root is None:
                failures.append(f"error: expected an XML Error body with Code {describe(expect['error'])}, got "
                                + (xml_problem or "an empty body"))
            elif local(root.tag) != "Error":
                failures.append(f"error: expected an Error body, got a {local(root.tag)} element")
            else:
                why = match(expect["error"], xml_path(root, "Code"))
                if why:
                    failures.append(f"error code: {why}")
        for name, m in (expect.get("headers") or {}).items():
            vals = [v for k, v in resp.headers if k.lower() == name.lower()]
            actual = ", ".join(vals) if vals else None
            why = match(m, actual)
            if why:
                failures.append(f"header {name}: {why}")
        if expect.get("xml"):
            if xml_problem or root is None:
                failures.append(f"xml: {xml_problem or 'expected an XML body, got an empty body'}")
            else:
                for path, m in expect["xml"].items():
                    why = match(m, xml_path(root, path))
                    if why:
                        failures.append(f"xml {path}: {why}")
        if "body" in expect:
            failures += self._check_body(expect["body"], resp)
        return failures

    def _check_body(self, exp: Any, resp: wire.Response) -> list[str]:
        if isinstance(exp, str):
            want = exp.encode("utf-8")
            if resp.length != len(want) or resp.sha256 != hashlib.sha256(want).hexdigest():
                return [f"body: expected {describe(exp)}, got {describe(resp.body[:200].decode('utf-8', 'replace'))} ({resp.length} bytes)"]
            return []
        out = []
        if "concat" in exp:
            h, total = hashlib.sha256(), 0
            for piece in exp["concat"]:
                seed, size = str(piece.get("seed", "cps")), int(piece["generate"])
                a, b = piece.get("range", [0, size - 1])
                pos = 0
                for blk in datagen.blocks(seed, size):
                    lo, hi = max(a, pos), min(b + 1, pos + len(blk))
                    if lo < hi:
                        h.update(blk[lo - pos:hi - pos])
                        total += hi - lo
                    pos += len(blk)
            if resp.length != total or resp.sha256 != h.hexdigest():
                out.append(f"body: not the expected concatenation of {len(exp['concat'])} generated pieces "
                           f"({resp.length} bytes, expected {total})")
        if "generate" in exp:
            seed, size = str(exp.get("seed", "cps")), int(exp["generate"])
            if "range" in exp:
                a, b = exp["range"]
                want_len, want = b - a + 1, datagen.slice_digest(seed, size, a, b)
            else:
                want_len, want = size, _cached_digest(seed, size)["sha256"]
            if resp.length != want_len or resp.sha256 != want:
                hint = ""
                if resp.length != want_len:
                    hint = f" ({resp.length} bytes instead of {want_len})"
                m = re.match(rb"[0-9a-fA-F]+(;chunk-signature=[0-9a-f]+)?\r\n", resp.body[:120])
                if m:
                    hint += f"; the body starts with {m.group(0).decode()!r}: the aws-chunked framing was stored as data"
                out.append(f"body: not the expected generated data (seed {seed!r}, {size} bytes"
                           + (f", range {exp['range']}" if "range" in exp else "") + f"){hint}")
        if exp.get("empty") and resp.length != 0:
            out.append(f"body: expected empty, got {resp.length} bytes")
        if "length" in exp and resp.length != int(exp["length"]):
            out.append(f"body: expected {exp['length']} bytes, got {resp.length}")
        if "sha256" in exp and resp.sha256 != exp["sha256"]:
            out.append(f"body: sha256 {resp.sha256} instead of {exp['sha256']}")
        if "contains" in exp and exp["contains"].encode() not in resp.body:
            out.append(f"body: does not contain {exp['contains']!r}")
        return out

    def capture(self, spec: dict[str, str] | None, resp: wire.Response, env: dict) -> list[str]:
        problems = []
        for var, src in (spec or {}).items():
            optional = src.endswith("?")  # "xml.@root?": empty string when absent, not a problem
            src = src.rstrip("?")
            val: Any
            if src == "status":
                val = resp.status
            elif src == "body":
                val = resp.body.decode("utf-8", "replace")
            elif src.startswith("header."):
                val = resp.header(src[7:])
            elif src.startswith("xml."):
                try:
                    val = xml_path(parse_xml(resp.body), src[4:])
                except XmlError:
                    val = None
            else:
                raise VectorError(f"bad capture source {src}")
            if val is None and optional:
                env[var] = ""
            elif val is None:
                problems.append(f"capture {var}: {src} is absent")
            else:
                env[var] = val if not isinstance(val, list) else ",".join(val)
        return problems

    # ------------------------------------------------------------ one test

    @staticmethod
    def applies(step: dict[str, Any], env: dict[str, Any]) -> bool:
        """``only_if`` / ``unless``: {variable: value} conditions on captured variables."""
        for k, v in (step.get("only_if") or {}).items():
            if str(env.get(k)) != str(substitute(v, env)):
                return False
        for k, v in (step.get("unless") or {}).items():
            if str(env.get(k)) == str(substitute(v, env)):
                return False
        return True

    def step(self, ctx: "TestContext", step: dict[str, Any], phase: str) -> wire.Response | None:
        """Run one step; raise Blocked (setup) or Failed (steps) when expectations are not met."""
        if not self.applies(step, ctx.env):
            return None
        resp, record = self.exchange(step, ctx.env)
        record["phase"] = phase
        ctx.exchanges.append(record)
        failures = self.capture(step.get("capture"), resp, ctx.env)  # first: expectations may use them
        try:
            failures += self.check(step.get("expect"), resp, ctx.env)
        except VectorError:
            if not failures:  # a real vector bug; otherwise the variable is missing because a capture failed
                raise
        if failures:
            record["failures"] = failures
            label = f"{'setup ' if phase == 'setup' else ''}step {len(ctx.exchanges)} ({record['title']})"
            msg = f"{label}: " + "; ".join(failures)
            if phase == "setup":
                raise Blocked("prerequisite failed: " + msg)
            raise Failed(msg)
        return resp

    before_test: Callable[[TestCase], None] | None = None  # a harness hook (e.g. wait for a restarted server)
    after_test: Callable[["TestResult"], None] | None = None

    def run_test(self, t: TestCase) -> TestResult:
        if self.before_test is not None:
            self.before_test(t)
        result = self._run_test(t)
        if self.after_test is not None:
            self.after_test(result)
        return result

    def _run_test(self, t: TestCase) -> TestResult:
        ctx = TestContext(self, t)
        t0 = time.monotonic()
        outcome, message = "pass", ""
        try:
            if t.bucket == "cors" and self.config.cors_bucket:
                ctx.env["bucket"] = self.config.cors_bucket
            elif t.bucket in ("fresh", "cors"):
                ctx.env["bucket"] = self.unique("f")
                try:
                    self.step(ctx, {"op": "CreateBucket", "bucket": ctx.env["bucket"], "title": "CreateBucket (fresh bucket for this test)"}, "setup")
                    if t.bucket == "cors":
                        self.step(ctx, {"op": "PutBucketCors", "bucket": ctx.env["bucket"], "body": CORS_TEST_CONFIGURATION,
                                        "content_md5": "auto",
                                        "title": "PutBucketCors (the CORS test configuration; or give --cors-bucket)"}, "setup")
                except Blocked as exc:
                    raise Blocked(f"{exc} (the test needs a bucket of its own)") from None
            if t.kind == "code":
                t.func(ctx)
            else:
                for s in t.data.get("setup") or []:
                    self.step(ctx, s, "setup")
                for s in t.data["steps"]:
                    self.step(ctx, s, "test")
        except Failed as exc:
            outcome, message = "fail", str(exc)
        except Blocked as exc:
            outcome, message = "blocked", str(exc)
        except Interrupted:
            outcome, message = "skipped", "run interrupted"
        except Skipped as exc:
            outcome, message = "skipped", str(exc)
        except wire.WireError as exc:
            outcome, message = "error", f"network: {exc}"
        except (VectorError, MatcherError) as exc:
            outcome, message = "error", f"vector: {exc}"
        except Exception as exc:  # a runner bug must not look like a server failure
            outcome, message = "error", f"runner: {type(exc).__name__}: {exc}"
        finally:
            if t.bucket in ("fresh", "cors") and ctx.env.get("bucket") in self.created_buckets:
                try:
                    self.empty_and_delete(ctx.env["bucket"])
                except Exception:
                    pass
        return TestResult(t, outcome, message, time.monotonic() - t0, ctx.exchanges, self.level(t))

    def level(self, t: TestCase) -> str:
        return test_level(t, self.spec)

    # ------------------------------------------------------------ whole run

    def prepare(self) -> None:
        """Create the run's bucket (or check the given one); raises wire.WireError / RuntimeError."""
        ctx = TestContext(self, None)
        if self.config.bucket:
            resp, _ = self.exchange({"op": "HeadBucket", "bucket": self.bucket, "expect": {"status": 200}}, ctx.env)
            if resp.status != 200:
                raise RuntimeError(f"the given bucket {self.bucket} is not usable: HeadBucket answered {resp.status}")
            return
        self.bucket_may_exist = True
        try:
            resp, _ = self.exchange({"op": "CreateBucket", "bucket": self.bucket}, ctx.env)
        except wire.WireError as exc:
            self.bucket_may_exist = not str(exc).startswith("connection refused")
            raise
        if not 200 <= resp.status < 300:
            self.bucket_may_exist = False
            raise RuntimeError(f"cannot create the run's bucket {self.bucket}: CreateBucket answered {resp.status} "
                               f"{resp.body[:300].decode('utf-8', 'replace')!r}; use --bucket to name an existing one")

    def execute(self, on_result: Callable[[TestResult, int, int], None] | None = None) -> None:
        selected, skipped = self.selection()
        self.started = _dt.datetime.now(_dt.timezone.utc)
        for t in self.tests:
            if t.id in skipped:
                self.results[t.id] = TestResult(t, "skipped", skipped[t.id], level=self.level(t))
        total = len(selected)
        try:
            if selected:
                try:
                    self.prepare()
                except (wire.WireError, RuntimeError) as exc:
                    self.setup_error = str(exc)
                    for t in selected:
                        self.results[t.id] = TestResult(t, "error", f"run setup failed: {exc}", level=self.level(t))
                    return
                pool = ThreadPoolExecutor(max_workers=max(1, self.config.jobs), thread_name_prefix="cps-test")
                try:
                    futures = {pool.submit(self.run_test, t): t for t in selected}
                    pending = set(futures)
                    while pending:
                        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                        for f in done:
                            r = f.result()
                            self.results[r.test.id] = r
                            self._done += 1
                            if on_result:
                                on_result(r, self._done, total)
                except KeyboardInterrupt:
                    self.interrupted = True
                    self.cancel.set()
                    for f in futures:
                        f.cancel()
                    pool.shutdown(wait=True, cancel_futures=True)
                    for f, t in futures.items():
                        if f.done() and not f.cancelled() and t.id not in self.results:
                            self.results[t.id] = f.result()
                    raise
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
        finally:
            for t in selected:
                if t.id not in self.results:
                    self.results[t.id] = TestResult(t, "skipped", "run interrupted", level=self.level(t))
            self.finished = _dt.datetime.now(_dt.timezone.utc)

    # ------------------------------------------------------------ cleanup

    def _quiet(self, step: dict, env: dict | None = None):
        try:
            return self.exchange(step, env or {"bucket": self.bucket})[0]
        except (wire.WireError, Interrupted, VectorError):
            return None

    def _list_keys(self, bucket: str, prefix: str | None) -> list[str]:
        keys: list[str] = []
        token = None
        for _ in range(1000):
            q = {"max-keys": "1000"}
            if prefix:
                q["prefix"] = prefix
            if token:
                q["continuation-token"] = token
            resp = self._quiet({"op": "ListObjectsV2", "bucket": bucket, "query": q})
            if resp is None or resp.status != 200:
                break
            try:
                root = parse_xml(resp.body)
            except XmlError:
                break
            keys += xml_path(root, "Contents[*].Key") or []
            token = xml_path(root, "NextContinuationToken")
            if xml_path(root, "IsTruncated") != "true" or not token:
                break
        return keys

    def empty_and_delete(self, bucket: str, delete_bucket: bool = True) -> None:
        with self._lock:
            uploads = [u for u in self.uploads if u[0] == bucket]
            written = [k for b, k in self.written if b == bucket]
        for b, k, uid in uploads:
            self._quiet({"op": "AbortMultipartUpload", "bucket": b, "key": k, "upload_id": uid})
        resp = self._quiet({"op": "ListMultipartUploads", "bucket": bucket})
        if resp is not None and resp.status == 200:
            try:
                root = parse_xml(resp.body)
                for k, uid in zip(xml_path(root, "Upload[*].Key") or [], xml_path(root, "Upload[*].UploadId") or []):
                    if delete_bucket or k.startswith(self.prefix):
                        self._quiet({"op": "AbortMultipartUpload", "bucket": bucket, "key": k, "upload_id": uid})
            except (XmlError, MatcherError):
                pass
        keys = set(written) | set(self._list_keys(bucket, None if delete_bucket else self.prefix))
        if not delete_bucket:
            keys = {k for k in keys if k.startswith(self.prefix)}
        for k in sorted(keys):
            self._quiet({"op": "DeleteObject", "bucket": bucket, "key": k})
        if delete_bucket:
            resp = self._quiet({"op": "DeleteBucket", "bucket": bucket})
            if resp is not None and resp.status == 404 and bucket == self.bucket and bucket not in self.created_buckets:
                return  # the run's bucket was never created
            if resp is None or resp.status not in (200, 204, 404):
                left = self._list_keys(bucket, None)
                self.cleanup_report.append(f"bucket {bucket} could not be deleted "
                                           f"(DeleteBucket answered {resp.status if resp else 'nothing'}; {len(left)} objects left)")
            else:
                with self._lock:
                    if bucket in self.created_buckets:
                        self.created_buckets.remove(bucket)

    def cleanup(self) -> list[str]:
        """Remove everything the run created. Returns what could not be removed."""
        self.cancel.clear()  # cleanup requests must go out even after Ctrl-C
        try:
            buckets = list(self.created_buckets)
            if self.config.bucket:
                self.empty_and_delete(self.bucket, delete_bucket=False)
            elif self.bucket not in buckets and self.bucket_may_exist:
                # the run's bucket, also when an interruption came while it was being created
                buckets.insert(0, self.bucket)
            for b in buckets:
                if b == self.config.bucket:
                    continue
                self.empty_and_delete(b)
        finally:
            wire.close_connections()
        return self.cleanup_report


class TestContext:
    """What a test sees: variables, recorded exchanges, and helpers for code-based tests."""

    __test__ = False

    def __init__(self, run: Run, test: TestCase | None):
        self.run = run
        self.test = test
        self.exchanges: list[dict[str, Any]] = []
        tid = test.id if test else "run"
        self.env: dict[str, Any] = {
            "bucket": run.bucket,
            "runbucket": run.bucket,
            "p": f"{run.prefix}{tid}/",
            "run": run.run_id,
            "test": tid,
            "newbucket": run.unique("n"),
            "newbucket2": run.unique("n"),
            "missingbucket": run.unique("missing"),
            "missingupload": "cpsNoSuchUpload" + run.run_id,
            "endpoint_host": run.config.endpoint.netloc,
            "region": run.config.endpoint.region,
            "cors_origin": CORS_TEST_ORIGIN,
        }
        if test is not None and test.data:
            for k, v in (test.data.get("vars") or {}).items():
                self.env[k] = substitute(v, self.env)

    def setup(self, step: dict[str, Any]) -> wire.Response:
        return self.run.step(self, step, "setup")

    def check(self, step: dict[str, Any]) -> wire.Response:
        return self.run.step(self, step, "test")

    def send(self, step: dict[str, Any]) -> tuple[wire.Response, dict[str, Any]]:
        """Send without judging; the record is kept for the report."""
        resp, record = self.run.exchange(step, self.env)
        record["phase"] = "test"
        self.exchanges.append(record)
        return resp, record

    def fail(self, message: str, record: dict | None = None):
        if record is not None:
            record.setdefault("failures", []).append(message)
        raise Failed(message)


def _preview(data: bytes, content_type: str | None) -> str:
    if not data:
        return ""
    try:
        text = data.decode("utf-8")
        if all(c.isprintable() or c in "\r\n\t" for c in text):
            return text
    except UnicodeDecodeError:
        pass
    # binary: printable ASCII as is, everything else escaped, so that framing lines stay readable
    shown = "".join(chr(b) if 32 <= b < 127 and b != 92 else {13: "\\r", 10: "\\n", 92: "\\\\"}.get(b, f"\\x{b:02x}")
                    for b in data[:256])
    return "(binary, escaped) " + shown + ("…" if len(data) > 256 else "")


# ---------------------------------------------------------------- verdicts


def requirement_verdicts(results: list[TestResult], spec) -> dict[str, dict[str, Any]]:
    """Per requirement: the outcome of the tests that cite it (fail > error > blocked > pass > skipped)."""
    from cps.conformance.catalog import is_testable

    by: dict[str, list[TestResult]] = {}
    for r in results:
        for rid in r.test.requirements:
            by.setdefault(rid, []).append(r)
    out: dict[str, dict[str, Any]] = {}
    reqs = list(getattr(spec, "requirements", []) or []) if spec is not None else []
    known = {r.id: r for r in reqs}
    ids = [r.id for r in reqs if is_testable(r) or r.id in by] + sorted(set(by) - set(known))
    for rid in ids:
        rs = by.get(rid, [])
        outcomes = {r.outcome for r in rs}
        if not rs:
            verdict = "untested"
        else:
            verdict = next((o for o in ("fail", "error", "blocked") if o in outcomes), None)
            if verdict is None:
                verdict = "pass" if "pass" in outcomes and "skipped" not in outcomes else (
                    "partial" if "pass" in outcomes else "skipped")
        req = known.get(rid)
        out[rid] = {
            "verdict": verdict,
            "profile": getattr(req, "profile", None),
            "doc": getattr(req, "doc", None),
            "keyword": getattr(req, "keyword", None),
            "tests": [r.test.id for r in rs],
        }
    return out


def profile_verdicts(results: list[TestResult], claimed: list[str], filtered: bool) -> dict[str, dict[str, Any]]:
    """conforms | does-not-conform | inconclusive (error/blocked, no failure) | incomplete (tests skipped).

    Only tests of absolute requirements (MUST, MUST NOT, REQUIRED...) decide the verdict; failed
    tests of SHOULD or MAY requirements are counted as ``deviations`` (a claim lists them).
    """
    out = {}
    for p in claimed:
        every = [r for r in results if r.test.profile == p
                 and not (r.outcome == "skipped" and r.message.startswith(NOT_APPLICABLE))]
        rs = [r for r in every if r.level == "must"]
        counts = {o: sum(1 for r in rs if r.outcome == o) for o in OUTCOMES}
        deviations = sorted(r.test.id for r in every if r.level != "must" and r.outcome == "fail")
        if counts["fail"]:
            v = "does-not-conform"
        elif counts["error"] or counts["blocked"]:
            v = "inconclusive"
        elif counts["skipped"] or not rs:
            v = "incomplete"
        else:
            v = "conforms"
        out[p] = {"verdict": v, "counts": counts, "tests": len(rs), "deviations": deviations,
                  "advisory_tests": len(every) - len(rs)}
    return out


def exit_code(profiles: dict[str, dict[str, Any]], filtered: bool) -> int:
    """0 when every claimed profile conforms (with --only/--skip: every test that ran passed)."""
    for p in profiles.values():
        if p["verdict"] == "conforms":
            continue
        if filtered and p["verdict"] == "incomplete":
            continue
        return 1
    return 0
