"""The wire: SigV4 signing and raw HTTP exchanges, with nothing added behind the suite's back.

The suite must control every byte a server sees (no SDK retries, no implicit checksums, no
``aws-chunked`` unless a test asks for it), so requests are built here and sent with
:mod:`http.client`. Signing follows AWS Signature Version 4 for S3 (no path normalisation, each
path segment URI-encoded once); ``tests/conformance/test_units.py`` cross-checks it against
``botocore.auth.SigV4Auth``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator
from urllib.parse import quote, unquote, urlsplit

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"

PREVIEW_REQUEST = 2048  # bytes of a request body kept for the report
PREVIEW_RESPONSE = 8192  # bytes of a response body kept for the report and for XML parsing
BODY_KEEP_LIMIT = 1 << 20  # response bodies up to this size are kept whole (XML, small objects)


class WireError(Exception):
    """The request could not be exchanged (connection refused, reset, timeout...)."""


def uri_encode(value: str, slash: bool = True) -> str:
    """RFC 3986 unreserved characters stay; everything else is %XX (upper case)."""
    return quote(value, safe="/-_.~" if not slash else "-_.~")


def encode_path(path: str) -> str:
    return quote(path, safe="/-_.~")


def canonical_query(params: list[tuple[str, str | None]]) -> str:
    pairs = sorted((uri_encode(k), uri_encode(v or "")) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def wire_query(params: list[tuple[str, str | None]]) -> str:
    """The query as sent: canonical order; a parameter with value ``None`` is sent bare (``?uploads``)."""
    parts = []
    for k, v in sorted(params, key=lambda kv: (uri_encode(kv[0]), uri_encode(kv[1] or ""))):
        parts.append(uri_encode(k) if v is None else f"{uri_encode(k)}={uri_encode(v)}")
    return "&".join(parts)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


@dataclass
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(access_key={redact_access_key(self.access_key)!r}, secret_key='***')"


def redact_access_key(ak: str) -> str:
    return (ak[:4] + "…") if len(ak) > 4 else "…"


def amz_date(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


def canonical_headers(headers: list[tuple[str, str]], names: list[str]) -> tuple[str, str]:
    by: dict[str, list[str]] = {}
    for k, v in headers:
        by.setdefault(k.lower(), []).append(" ".join(str(v).split()))
    signed = sorted(n.lower() for n in names)
    text = "".join(f"{n}:{','.join(by.get(n, []))}\n" for n in signed)
    return text, ";".join(signed)


def canonical_request(method: str, path: str, params, headers, signed_names, payload_hash: str,
                      raw_path: str | None = None) -> str:
    ch, sh = canonical_headers(headers, signed_names)
    uri = encode_path(unquote(raw_path)) if raw_path is not None else encode_path(path)
    return "\n".join([method.upper(), uri, canonical_query(params), ch, sh, payload_hash])


def string_to_sign(timestamp: str, scope: str, creq: str) -> str:
    return "\n".join(["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()])


@dataclass
class Request:
    """One HTTP request as the suite sends it. ``path`` is decoded (``/bucket/a key``)."""

    method: str
    path: str
    params: list[tuple[str, str | None]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Callable[[], Iterable[bytes]] | None = None  # bytes, or a factory of chunks
    body_length: int | None = None
    body_preview: bytes = b""
    raw_path: str | None = None  # sent and signed exactly as given (already percent-encoded)
    omit: tuple[str, ...] = ()  # header fields not to send although signed or implied (e.g. "Host")
    chunked: bool = False  # send the body with Transfer-Encoding: chunked (no Content-Length)
    raw_query: str | None = None  # sent exactly as given; ``params`` is then only used for signing

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    def del_header(self, name: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]

    def canonical_uri(self) -> str:
        """S3 rule: percent-decode the path as sent, then encode each byte once ('/' kept)."""
        if self.raw_path is not None:
            return encode_path(unquote(self.raw_path))
        return encode_path(self.path)

    def target(self) -> str:
        q = self.raw_query if self.raw_query is not None else wire_query(self.params)
        return (self.raw_path if self.raw_path is not None else encode_path(self.path)) + (("?" + q) if q else "")


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes  # whole body when <= BODY_KEEP_LIMIT, else the first PREVIEW_RESPONSE bytes
    length: int  # bytes received
    sha256: str
    truncated: bool
    elapsed: float

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Endpoint:
    url: str  # http(s)://host:port
    region: str = "us-east-1"
    addressing: str = "path"  # or "virtual"
    timeout: float = 30.0
    ca_bundle: str | None = None  # PEM file of CAs to trust for https (default: the system's)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme or "http"

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        p = urlsplit(self.url).port
        return p or (443 if self.scheme == "https" else 80)

    @property
    def base_path(self) -> str:
        return urlsplit(self.url).path.rstrip("/")


def address(endpoint: Endpoint, bucket: str | None, key: str | None) -> tuple[str, str]:
    """(Host header, decoded path) for a bucket/key under the endpoint's addressing style."""
    base = endpoint.base_path
    if not bucket:
        return endpoint.netloc, base + "/"
    if endpoint.addressing == "virtual":
        host = f"{bucket}.{endpoint.netloc}"
        return host, base + "/" + (key if key is not None else "")
    path = f"{base}/{bucket}"
    if key is not None:
        path += "/" + key
    return endpoint.netloc, path


def sign_header(req: Request, creds: Credentials, region: str, payload_hash: str,
                timestamp: str | None = None, extra_signed: Iterable[str] = (),
                signed_names: Iterable[str] | None = None, send_payload_header: bool = True,
                scope_date: str | None = None) -> str:
    """Add X-Amz-Date, X-Amz-Content-SHA256 and Authorization; return the signature.

    ``signed_names`` replaces the default choice of signed headers; ``send_payload_header=False``
    leaves out X-Amz-Content-SHA256 (the canonical request still ends with ``payload_hash``);
    ``scope_date`` puts another date into the credential scope (and the signing key).
    """
    timestamp = timestamp or amz_date()
    req.set_header("X-Amz-Date", timestamp)
    if send_payload_header:
        req.set_header("X-Amz-Content-SHA256", payload_hash)
    else:
        req.del_header("X-Amz-Content-SHA256")
    if creds.token:
        req.set_header("X-Amz-Security-Token", creds.token)
    if signed_names is not None:
        names = {n.lower() for n in signed_names}
    else:
        names = {"host", "x-amz-date", "x-amz-content-sha256"}
        for k, _ in req.headers:
            lk = k.lower()
            if lk.startswith("x-amz-") or lk in ("content-md5", "content-type", "range", "if-match",
                                                "if-none-match", "content-encoding", "if-modified-since",
                                                "if-unmodified-since", "content-disposition", "cache-control"):
                names.add(lk)
        names.update(n.lower() for n in extra_signed)
        names = {n for n in names if req.header(n) is not None}
    date = scope_date or timestamp[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    creq = canonical_request(req.method, req.path, req.params, req.headers, sorted(names), payload_hash, req.raw_path)
    sts = string_to_sign(timestamp, scope, creq)
    sig = hmac.new(signing_key(creds.secret_key, date, region), sts.encode(), hashlib.sha256).hexdigest()
    req.set_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={';'.join(sorted(names))}, Signature={sig}",
    )
    return sig


def presign(req: Request, creds: Credentials, region: str, expires: int = 900,
            timestamp: str | None = None) -> None:
    """Turn ``req`` into a presigned (query-string authenticated) request; only Host is signed."""
    timestamp = timestamp or amz_date()
    date = timestamp[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    params = [p for p in req.params if not p[0].startswith("X-Amz-")]
    params += [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{creds.access_key}/{scope}"),
        ("X-Amz-Date", timestamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if creds.token:
        params.append(("X-Amz-Security-Token", creds.token))
    creq = canonical_request(req.method, req.path, params, req.headers, ["host"], UNSIGNED_PAYLOAD, req.raw_path)
    sts = string_to_sign(timestamp, scope, creq)
    sig = hmac.new(signing_key(creds.secret_key, date, region), sts.encode(), hashlib.sha256).hexdigest()
    params.append(("X-Amz-Signature", sig))
    req.params = params


def chunk_signature(key: bytes, timestamp: str, scope: str, previous: str, chunk_hash: str) -> str:
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous, EMPTY_SHA256, chunk_hash])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def trailer_signature(key: bytes, timestamp: str, scope: str, previous: str, trailer_lines: str) -> str:
    """Signature of the trailing headers (``name:value\n`` each) of a signed streaming upload."""
    sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", timestamp, scope, previous,
                      hashlib.sha256(trailer_lines.encode()).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"


# ---------------------------------------------------------------- connections


class _Pool(threading.local):
    def __init__(self) -> None:
        self.conns: dict[tuple[str, str, int], http.client.HTTPConnection] = {}


_pool = _Pool()


IDLE_LIMIT = 2.0  # seconds; servers close idle keep-alive connections (Node.js after 5 s)


def _usable(conn: http.client.HTTPConnection) -> bool:
    """A kept-alive connection is reused only when recently used and not closed by the server."""
    import select

    sock = conn.sock
    if sock is None:
        return True  # not connected yet: http.client connects on the next request
    if time.monotonic() - getattr(conn, "_cps_last_used", 0.0) > IDLE_LIMIT:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable  # readable while idle means EOF (closed) or stray bytes: do not reuse


def _connection(endpoint: Endpoint) -> http.client.HTTPConnection:
    k = (endpoint.scheme, endpoint.host, endpoint.port)
    conn = _pool.conns.get(k)
    if conn is not None and not _usable(conn):
        conn.close()
        conn = None
    if conn is None:
        if endpoint.scheme == "https":
            import ssl

            ctx = ssl.create_default_context(cafile=endpoint.ca_bundle) if endpoint.ca_bundle else None
            conn = http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=endpoint.timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        _pool.conns[k] = conn
    return conn


def close_connections() -> None:
    for c in _pool.conns.values():
        try:
            c.close()
        except Exception:
            pass
    _pool.conns.clear()


def _iter_body(body) -> Iterator[bytes]:
    if body is None:
        return iter(())
    if isinstance(body, (bytes, bytearray)):
        return iter((bytes(body),))
    return iter(body())


def send(endpoint: Endpoint, req: Request, host: str, read_body: bool = True,
         fresh_connection: bool = False) -> Response:
    """Send ``req`` exactly as built (plus Host and Content-Length); never retries.

    A kept-alive connection is reused only when it was used less than ``IDLE_LIMIT`` seconds ago
    and the server has not closed it; otherwise a new connection is opened before sending.
    """
    for attempt in (0,):
        conn = _connection(endpoint)
        if fresh_connection:
            conn.close()
        t0 = time.monotonic()
        try:
            conn.putrequest(req.method, req.target(), skip_host=True, skip_accept_encoding=True)
            omit = {o.lower() for o in req.omit}
            if "host" not in omit:
                conn.putheader("Host", req.header("Host") or host)
            for k, v in req.headers:
                if k.lower() == "host" or k.lower() in omit or (req.chunked and k.lower() == "content-length"):
                    continue
                conn.putheader(k, v)
            if req.chunked:
                if "transfer-encoding" not in omit and req.header("Transfer-Encoding") is None:
                    conn.putheader("Transfer-Encoding", "chunked")
            elif "content-length" in omit:
                pass
            elif req.body is not None and req.header("Content-Length") is None and req.header("Transfer-Encoding") is None:
                conn.putheader("Content-Length", str(req.body_length or 0))
            elif req.body is None and req.method in ("PUT", "POST") and req.header("Content-Length") is None:
                conn.putheader("Content-Length", "0")
            conn.endheaders()
            for chunk in _iter_body(req.body):
                if req.chunked:
                    if chunk:
                        conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                else:
                    conn.send(chunk)
            if req.chunked:
                conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
            conn.close()
            _pool.conns.pop((endpoint.scheme, endpoint.host, endpoint.port), None)
            raise WireError(f"the server closed the connection without answering ({type(exc).__name__})") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            _pool.conns.pop((endpoint.scheme, endpoint.host, endpoint.port), None)
            msg = str(exc) or type(exc).__name__
            if isinstance(exc, ConnectionRefusedError):
                msg = f"connection refused by {endpoint.host}:{endpoint.port}"
            elif isinstance(exc, socket.timeout):
                msg = f"timed out after {endpoint.timeout:g} s"
            raise WireError(msg) from None
        try:
            h = hashlib.sha256()
            kept = bytearray()
            n = 0
            truncated = False
            if read_body:
                while True:
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    h.update(chunk)
                    n += len(chunk)
                    if len(kept) < BODY_KEEP_LIMIT:
                        kept += chunk[: BODY_KEEP_LIMIT - len(kept)]
                    else:
                        truncated = True
            headers = list(resp.getheaders())
            conn._cps_last_used = time.monotonic()
            if resp.will_close:
                conn.close()
                _pool.conns.pop((endpoint.scheme, endpoint.host, endpoint.port), None)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            _pool.conns.pop((endpoint.scheme, endpoint.host, endpoint.port), None)
            raise WireError(f"reading the response failed: {exc or type(exc).__name__}") from None
        if truncated:
            kept = kept[:PREVIEW_RESPONSE]
        return Response(resp.status, resp.reason, headers, bytes(kept), n, h.hexdigest(), truncated,
                        time.monotonic() - t0)
    raise WireError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------- redaction


def redact_header(name: str, value: str) -> str:
    ln = name.lower()
    if ln == "authorization":
        import re

        value = re.sub(r"Signature=[0-9a-fA-F]+", "Signature=<redacted>", value)
        value = re.sub(r"Credential=([^/,\s]+)", lambda m: "Credential=" + redact_access_key(m.group(1)), value)
        return value
    if ln in ("x-amz-security-token", "cookie", "set-cookie"):
        return "<redacted>"
    return value


def redact_target(target: str) -> str:
    import re

    target = re.sub(r"(X-Amz-Signature=)[0-9a-fA-F]+", r"\1<redacted>", target, flags=re.I)
    target = re.sub(r"(X-Amz-Security-Token=)[^&]+", r"\1<redacted>", target, flags=re.I)
    target = re.sub(r"(X-Amz-Credential=)([^%&/]+)", lambda m: m.group(1) + redact_access_key(m.group(2)),
                    target, flags=re.I)
    return target
