"""Code-based conformance tests: what data cannot express (concurrency, wire framing, sockets).

Each test is a function of a :class:`cps.conformance.runner.TestContext`, registered with the
same metadata as a vector (id, title, profile, requirements). It uses ``ctx.setup(step)`` for
prerequisites (failure: blocked), ``ctx.check(step)`` for verified steps (failure: fail),
``ctx.send(step)`` to send without judging, and ``ctx.fail(message)``; steps are the same
mappings as in vectors. Raw-socket helpers below send requests that http.client cannot (a body
that ends early, ``Expect: 100-continue``, an announced body that never comes).
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

REGISTRY: list[dict[str, Any]] = []


def code_test(id: str, title: str, profile: str, requirements: list[str], bucket: str = "shared",
              description: str = "", needs_profiles: list[str] | None = None,
              needs: list[str] | None = None) -> Callable:
    def deco(fn):
        REGISTRY.append({"id": id, "title": title, "profile": profile, "requirements": list(requirements),
                         "bucket": bucket, "description": description or (fn.__doc__ or "").strip(), "func": fn,
                         "needs_profiles": list(needs_profiles or []), "needs": list(needs or [])})
        return fn
    return deco


# ---------------------------------------------------------------- helpers


def _parallel(ctx, steps: list[dict]) -> list:
    """Send steps at the same moment from separate threads; returns [(response, record)]."""
    barrier = threading.Barrier(len(steps))

    def one(step):
        barrier.wait(5)
        return ctx.run.exchange(step, ctx.env)

    with ThreadPoolExecutor(len(steps)) as pool:
        out = list(pool.map(one, steps))
    for _, rec in out:
        rec["phase"] = "test"
        ctx.exchanges.append(rec)
    return out


def _prepared(ctx, step: dict):
    """A signed wire.Request for ``step`` (not sent), and the Host value."""
    run = ctx.run
    req, host, body, step2 = run.build(step, ctx.env)
    run.sign_and_attach(req, host, body, step2)
    return req, host


def _raw_head(req, host: str, extra: list[tuple[str, str]] = (), content_length: int | None = None) -> bytes:
    lines = [f"{req.method} {req.target()} HTTP/1.1", f"Host: {req.header('Host') or host}"]
    for k, v in list(req.headers) + list(extra):
        if k.lower() in ("host", "content-length"):
            continue
        lines.append(f"{k}: {v}")
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _connect(ctx) -> socket.socket:
    ep = ctx.run.config.endpoint
    sock = socket.create_connection((ep.host, ep.port), timeout=10)
    if ep.scheme == "https":
        sock = ssl.create_default_context(cafile=ep.ca_bundle).wrap_socket(sock, server_hostname=ep.host)
    return sock


def _read_response(sock: socket.socket, timeout: float) -> tuple[int | None, str]:
    """Status and the first bytes of whatever the server sends within ``timeout`` (None: nothing)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, TimeoutError):
        pass
    except OSError:
        pass
    if not data:
        return None, ""
    try:
        status = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = None
    # read a little of the body for the report
    sock.settimeout(0.5)
    try:
        more = sock.recv(4096)
        data += more
    except OSError:
        pass
    return status, data[:2000].decode("latin-1")


def _note(ctx, title: str, request: str, status, text: str, failures: list[str] | None = None):
    rec = {"title": title, "phase": "test",
           "request": {"method": request.split(" ", 1)[0], "target": "(raw socket) " + request, "headers": [],
                       "body_length": 0, "body_preview": ""},
           "response": {"status": status or 0, "reason": "", "headers": [], "body_length": len(text),
                        "body_preview": text}}
    if failures:
        rec["failures"] = failures
    ctx.exchanges.append(rec)
    return rec


# ---------------------------------------------------------------- concurrency


def _at_most_one_winner(ctx, out, many: str, one: str, none_of: str, each=None) -> list[int]:
    """Concurrent conditional writes: at most one 200, every answer 200, 412 or 409, and one winner.

    ``each(response, record, status)`` adds a check per answer; returns the indexes that got 200.
    """
    n = len(out)
    statuses = [r.status for r, _ in out]
    ok = [i for i, s in enumerate(statuses) if s == 200]
    if len(ok) > 1:
        ctx.fail(f"{len(ok)} of {n} {many} succeeded (statuses {statuses})")
    for (r, rec), s in zip(out, statuses):
        if s not in (200, 409, 412):
            ctx.fail(f"{one} was answered {s}; expected 200, 412 or 409", rec)
        if each is not None:
            each(r, rec, s)
    if not ok:
        ctx.fail(f"none of {n} {none_of} succeeded (statuses {statuses})")
    return ok


@code_test("cnc-create-only-race", "Concurrent create-only PutObjects to one free key: at most one succeeds",
           "conditional-writes", ["CPS-COND-005", "CPS-COND-018"])
def create_only_race(ctx):
    n = 8
    steps = [{"op": "PutObject", "key": "${p}race", "headers": {"If-None-Match": "*"},
              "body": {"generate": 2_000_000, "seed": f"race{i}"}, "title": f"PutObject If-None-Match * #{i}"}
             for i in range(n)]
    out = _parallel(ctx, steps)

    def conflict_code(r, rec, s):
        if s == 409:
            from cps.conformance.matcher import parse_xml, xml_path
            code = xml_path(parse_xml(r.body), "Code")
            if code != "ConditionalRequestConflict":
                ctx.fail(f"409 with error code {code!r} instead of ConditionalRequestConflict", rec)

    ok = _at_most_one_winner(ctx, out, "concurrent create-only writes", "a concurrent create-only write",
                             "concurrent create-only writes to a free key", each=conflict_code)
    winner = ok[0]
    ctx.check({"op": "GetObject", "key": "${p}race", "title": "GetObject (the winner's data)",
               "expect": {"status": 200, "body": {"generate": 2_000_000, "seed": f"race{winner}"}}})


@code_test("cnc-if-match-race", "Concurrent PutObjects with the same If-Match: at most one succeeds",
           "conditional-writes", ["CPS-COND-012", "CPS-COND-018"])
def if_match_race(ctx):
    r = ctx.setup({"op": "PutObject", "key": "${p}cas", "body": "v0", "capture": {"etag": "header.ETag"}})
    n = 8
    steps = [{"op": "PutObject", "key": "${p}cas", "headers": {"If-Match": "${etag}"},
              "body": {"generate": 2_000_000, "seed": f"cas{i}"}, "title": f"PutObject If-Match #{i}"} for i in range(n)]
    out = _parallel(ctx, steps)
    _at_most_one_winner(ctx, out, "concurrent compare-and-swap writes with the same If-Match",
                        "a concurrent If-Match write", "concurrent If-Match writes")


@code_test("cnc-create-upload-ids", "Concurrent CreateMultipartUpload requests for one key get distinct upload IDs",
           "multipart", ["CPS-MPU-001"])
def distinct_upload_ids(ctx):
    from cps.conformance.matcher import parse_xml, xml_path

    n = 8
    out = _parallel(ctx, [{"op": "CreateMultipartUpload", "key": "${p}obj"} for _ in range(n)])
    ids = []
    for resp, rec in out:
        if resp.status != 200:
            ctx.fail(f"CreateMultipartUpload answered {resp.status}", rec)
        ids.append(xml_path(parse_xml(resp.body), "UploadId"))
    if len(set(ids)) != n or None in ids:
        ctx.fail(f"{n} concurrent CreateMultipartUpload requests returned {len(set(ids))} distinct upload IDs: {ids}")


@code_test("cnc-parts-parallel", "Parts uploaded concurrently complete into the right object",
           "multipart", ["CPS-MPU-023"])
def parts_parallel(ctx):
    ctx.setup({"op": "CreateMultipartUpload", "key": "${p}obj", "capture": {"uid": "xml.UploadId"}})
    sizes = [5_242_880, 5_242_880, 5_242_880, 1000]
    steps = [{"op": "UploadPart", "key": "${p}obj", "upload_id": "${uid}", "part_number": i + 1,
              "body": {"generate": sz, "seed": f"pp{i}"}, "title": f"UploadPart {i + 1}"} for i, sz in enumerate(sizes)]
    out = _parallel(ctx, list(reversed(steps)))
    etags = {}
    for (resp, rec), step in zip(out, reversed(steps)):
        if resp.status != 200:
            ctx.fail(f"UploadPart {step['part_number']} answered {resp.status}", rec)
        etags[step["part_number"]] = resp.header("ETag")
    ctx.check({"op": "CompleteMultipartUpload", "key": "${p}obj", "upload_id": "${uid}",
               "parts": [{"part": n, "etag": etags[n]} for n in sorted(etags)], "expect": {"status": 200}})
    ctx.check({"op": "GetObject", "key": "${p}obj",
               "expect": {"status": 200, "body": {"concat": [{"generate": sz, "seed": f"pp{i}"} for i, sz in enumerate(sizes)]}}})


@code_test("cnc-put-atomic", "Reads during an overwrite return the complete old or the complete new object",
           "core", ["CPS-OBJ-027"])
def put_atomic(ctx):
    from cps.conformance import datagen

    size = 8 << 20
    ctx.setup({"op": "PutObject", "key": "${p}obj", "body": {"generate": size, "seed": "old"}})
    good = {datagen.digest("old", size)["sha256"], datagen.digest("new", size)["sha256"]}
    done = threading.Event()
    problems: list[str] = []

    def reader():
        while not done.is_set():
            resp, rec = ctx.run.exchange({"op": "GetObject", "key": "${p}obj"}, ctx.env)
            if resp.status != 200 or resp.sha256 not in good or resp.length != size:
                rec["failures"] = ["a read during the overwrite returned neither the old nor the new object"]
                rec["phase"] = "test"
                ctx.exchanges.append(rec)
                problems.append(f"GetObject during the overwrite answered {resp.status} with {resp.length} bytes "
                                "that are neither the old nor the new content")
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        ctx.check({"op": "PutObject", "key": "${p}obj", "body": {"generate": size, "seed": "new"}, "expect": {"status": 200}})
        time.sleep(0.05)
    finally:
        done.set()
        for t in threads:
            t.join(30)
    if problems:
        ctx.fail(problems[0])
    ctx.check({"op": "GetObject", "key": "${p}obj", "expect": {"status": 200, "body": {"generate": size, "seed": "new"}}})


@code_test("cnc-create-bucket-race", "Concurrent CreateBucket requests for one name: at most one succeeds, the others 409",
           "buckets", ["CPS-BKT-012"], bucket="none")
def create_bucket_race(ctx):
    n = 5
    out = _parallel(ctx, [{"op": "CreateBucket", "bucket": "${newbucket}"} for _ in range(n)])
    statuses = [r.status for r, _ in out]
    if sum(1 for s in statuses if s == 200) > 1:
        ctx.fail(f"{statuses.count(200)} of {n} concurrent CreateBucket requests for one name succeeded ({statuses})")
    bad = [s for s in statuses if s not in (200, 409)]
    if bad:
        ctx.fail(f"concurrent CreateBucket answered {bad}; expected 200 once and 409 otherwise")


# ---------------------------------------------------------------- wire framing with raw sockets


@code_test("raw-body-ends-early", "A PutObject whose body ends before Content-Length stores nothing and leaves the old object",
           "core", ["CPS-OBJ-007", "CPS-HTTP-045"])
def body_ends_early(ctx):
    full = b"x" * 1000
    ctx.setup({"op": "PutObject", "key": "${p}old", "body": "the previous object"})
    for key in ("${p}obj", "${p}old"):
        req, host = _prepared(ctx, {"op": "PutObject", "key": key, "body": full.decode(), "payload_hash": "unsigned"})
        sock = _connect(ctx)
        try:
            sock.sendall(_raw_head(req, host, content_length=1000) + full[:500])
            sock.shutdown(socket.SHUT_WR)
            status, text = _read_response(sock, 5)
        finally:
            sock.close()
        _note(ctx, "PutObject with 500 of 1000 announced bytes, then end of stream", f"PUT {req.target()}", status, text)
    ctx.check({"op": "HeadObject", "key": "${p}obj", "expect": {"status": 404}})
    ctx.check({"op": "GetObject", "key": "${p}old", "expect": {"status": 200, "body": "the previous object"}})


@code_test("raw-body-ends-early-status", "A PutObject whose body ends early is answered 400 IncompleteBody",
           "core", ["CPS-OBJ-008"])
def body_ends_early_status(ctx):
    full = b"x" * 1000
    req, host = _prepared(ctx, {"op": "PutObject", "key": "${p}obj", "body": full.decode(), "payload_hash": "unsigned"})
    sock = _connect(ctx)
    try:
        sock.sendall(_raw_head(req, host, content_length=1000) + full[:500])
        sock.shutdown(socket.SHUT_WR)
        status, text = _read_response(sock, 5)
    finally:
        sock.close()
    ok = status == 400 and "IncompleteBody" in text
    rec = _note(ctx, "PutObject with 500 of 1000 announced bytes", f"PUT {req.target()}", status, text,
                None if ok else ["expected 400 IncompleteBody"])
    if not ok:
        ctx.fail(f"a body that ended early was answered {status or 'with nothing'}; expected 400 IncompleteBody", rec)


def _blocks(buf: bytes) -> tuple[list[int], bytes]:
    """Status codes of the complete interim (1xx) header blocks at the start of ``buf``, and the rest."""
    codes = []
    while b"\r\n\r\n" in buf:
        head, rest = buf.split(b"\r\n\r\n", 1)
        try:
            code = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            break
        if not 100 <= code < 200:
            break
        codes.append(code)
        buf = rest
    return codes, buf


def _recv_until(sock: socket.socket, buf: bytes, done: Callable[[bytes], bool], timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while not done(buf) and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def _expect_continue(ctx, step: dict, body: bytes):
    """Send headers with Expect: 100-continue; returns (req, first status, text, seconds waited, final status)."""
    req, host = _prepared(ctx, step)
    sock = _connect(ctx)
    t0 = time.monotonic()
    final = None
    try:
        sock.sendall(_raw_head(req, host, [("Expect", "100-continue")], content_length=len(body)))
        buf = _recv_until(sock, b"", lambda b: b"\r\n\r\n" in b, 5)
        waited = time.monotonic() - t0
        text = buf[:2000].decode("latin-1")
        if not buf:
            return req, None, "", waited, None
        try:
            first = int(buf.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return req, None, text, waited, None
        if first == 100:
            sock.sendall(body)

            def has_final(b: bytes) -> bool:
                _, rest = _blocks(b)
                return b"\r\n\r\n" in rest

            buf = _recv_until(sock, buf, has_final, 10)
            _, rest = _blocks(buf)
            try:
                final = int(rest.split(b" ", 2)[1])
            except (IndexError, ValueError):
                final = None
            text = buf[:2000].decode("latin-1")
        return req, first, text, waited, final
    finally:
        sock.close()


@code_test("raw-expect-continue", "Expect: 100-continue is answered with 100 (or a final status) without waiting for the body",
           "core", ["CPS-HTTP-046", "CPS-HTTP-047"])
def expect_continue(ctx):
    body = b"continue body"
    req, status, text, waited, final = _expect_continue(
        ctx, {"op": "PutObject", "key": "${p}obj", "body": body.decode()}, body)
    rec = _note(ctx, "PutObject with Expect: 100-continue (body held back)", f"PUT {req.target()}", status, text)
    if status is None:
        ctx.fail(f"no interim or final response within {waited:.1f} s: the server waited for the body", rec)
    if status == 417:
        ctx.fail("the expectation 100-continue was answered 417 Expectation Failed", rec)
    if status == 100 and final != 200:
        ctx.fail(f"after 100 Continue and the body, the final status was {final}", rec)
    if status == 100:
        ctx.check({"op": "GetObject", "key": "${p}obj", "expect": {"status": 200, "body": body.decode()}})


@code_test("raw-expect-continue-early-reject", "A request with Expect: 100-continue that fails authentication gets the final error without 100",
           "core", ["CPS-HTTP-048"])
def expect_continue_reject(ctx):
    body = b"never stored"
    req, status, text, waited, final = _expect_continue(
        ctx, {"op": "PutObject", "bucket": "${missingbucket}", "key": "obj", "body": body.decode()}, body)
    rec = _note(ctx, "PutObject to a missing bucket with Expect: 100-continue", f"PUT {req.target()}", status, text)
    if status is None or status == 100 or status < 400:
        ctx.fail(f"expected a final 4xx answer before the body, got {status or 'nothing within 5 s'}", rec)


def _announce_huge(ctx, step: dict, length: int, code: str, what: str):
    req, host = _prepared(ctx, dict(step, payload_hash="unsigned"))
    sock = _connect(ctx)
    try:
        sock.sendall(_raw_head(req, host, content_length=length))
        status, text = _read_response(sock, 5)
    finally:
        sock.close()
    ok = status == 400 and code in text
    rec = _note(ctx, f"{what} announcing Content-Length {length} (no body sent)", f"{req.method} {req.target()}",
                status, text, None if ok else [f"expected 400 {code} before the body"])
    if not ok:
        ctx.fail(f"{what} announcing {length} bytes was answered {status or 'with nothing within 5 s'}; "
                 f"expected 400 {code} without reading the body", rec)


@code_test("raw-put-too-large", "A PutObject announcing more than 5 GiB is answered 400 EntityTooLarge before the body",
           "core", ["CPS-OBJ-034"])
def put_too_large(ctx):
    _announce_huge(ctx, {"op": "PutObject", "key": "${p}huge"}, 5 * 1024 ** 3 + 1, "EntityTooLarge", "PutObject")


@code_test("raw-part-too-large", "An UploadPart announcing more than 5 GiB is answered 400 EntityTooLarge",
           "multipart", ["CPS-MPU-011"])
def part_too_large(ctx):
    ctx.setup({"op": "CreateMultipartUpload", "key": "${p}obj", "capture": {"uid": "xml.UploadId"}})
    _announce_huge(ctx, {"op": "UploadPart", "key": "${p}obj", "upload_id": "${uid}", "part_number": 1},
                   5 * 1024 ** 3 + 1, "EntityTooLarge", "UploadPart")


@code_test("raw-transfer-encoding-plain", "A PutObject with plain Transfer-Encoding chunked stores exactly the bytes or answers 411",
           "core", ["CPS-HTTP-043"])
def te_chunked_plain(ctx):
    resp = ctx.check({"op": "PutObject", "key": "${p}obj", "body": {"generate": 10000, "seed": "te"},
                      "transfer_encoding": "chunked", "payload_hash": "unsigned",
                      "expect": {"any_of": [{"status": 200}, {"status": 411, "error": "MissingContentLength"}]}})
    if resp is not None and resp.status == 200:
        ctx.check({"op": "GetObject", "key": "${p}obj", "expect": {"status": 200, "body": {"generate": 10000, "seed": "te"}}})


@code_test("raw-head-no-body", "HEAD responses (success and error) carry no body bytes on the wire",
           "core", ["CPS-HTTP-054"])
def head_no_body(ctx):
    ctx.setup({"op": "PutObject", "key": "${p}obj", "body": "some content"})
    for key, what in (("${p}obj", "an existing object"), ("${p}missing", "a missing key")):
        req, host = _prepared(ctx, {"op": "HeadObject", "key": key})
        sock = _connect(ctx)
        try:
            sock.sendall(_raw_head(req, host))
            buf = _recv_until(sock, b"", lambda b: b"\r\n\r\n" in b, 5)
            extra = _recv_until(sock, buf.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in buf else b"",
                                lambda b: False, 0.5)
        finally:
            sock.close()
        head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else None
        rec = _note(ctx, f"HEAD {what} (raw socket)", f"HEAD {req.target()}", status,
                    head + ("\n\n(then " + str(len(extra)) + " body bytes)" if extra else ""))
        if extra:
            ctx.fail(f"the response to HEAD for {what} was followed by {len(extra)} body bytes", rec)


# ---------------------------------------------------------------- objects over 5 GiB (opt-in: --large)

LARGE_SOURCE = 5 * 1024 ** 3 + 1  # one byte over the single-request limit of AWS


def _large_source(ctx, key: str) -> None:
    """A multipart object of 5 GiB + 1 byte (two parts), streamed from generated data."""
    half = LARGE_SOURCE // 2
    ctx.setup({"op": "CreateMultipartUpload", "key": key, "capture": {"luid": "xml.UploadId"}})
    ctx.setup({"op": "UploadPart", "key": key, "upload_id": "${luid}", "part_number": 1,
               "body": {"generate": half, "seed": "large1"}, "payload_hash": "unsigned", "capture": {"le1": "header.ETag"}})
    ctx.setup({"op": "UploadPart", "key": key, "upload_id": "${luid}", "part_number": 2,
               "body": {"generate": LARGE_SOURCE - half, "seed": "large2"}, "payload_hash": "unsigned",
               "capture": {"le2": "header.ETag"}})
    ctx.setup({"op": "CompleteMultipartUpload", "key": key, "upload_id": "${luid}",
               "parts": [{"part": 1, "etag": "${le1}"}, {"part": 2, "etag": "${le2}"}]})
    ctx.setup({"op": "HeadObject", "key": key, "expect": {"status": 200, "headers": {"Content-Length": LARGE_SOURCE}}})


@code_test("large-copy-limits", "Copies of a source over 5 GiB: CopyObject within the server's limit, UploadPartCopy never",
           "multipart", ["CPS-OBJ-114", "CPS-MPU-032"], needs=["large-objects"],
           description="Uploads an object of 5 GiB + 1 byte (opt-in with --large). CopyObject either copies it "
                       "(a server whose single-request limit is higher) or answers 400 InvalidRequest; "
                       "UploadPartCopy of the whole source would make a part over 5 GiB and must be refused with 400.")
def large_copy_limits(ctx):
    _large_source(ctx, "${p}large")
    resp = ctx.check({"op": "CopyObject", "key": "${p}copy", "copy_source": "${bucket}/${p}large",
                      "expect": {"any_of": [{"status": 200}, {"status": 400, "error": "InvalidRequest"}]}})
    if resp is not None and resp.status == 200:
        ctx.check({"op": "HeadObject", "key": "${p}copy", "expect": {"status": 200, "headers": {"Content-Length": LARGE_SOURCE}}})
    ctx.setup({"op": "CreateMultipartUpload", "key": "${p}dst", "capture": {"duid": "xml.UploadId"}})
    ctx.check({"op": "UploadPartCopy", "key": "${p}dst", "upload_id": "${duid}", "part_number": 1,
               "copy_source": "${bucket}/${p}large", "expect": {"status": 400}})


# ---------------------------------------------------------------- presigned reuse, secrets, TLS


@code_test("pre-url-reuse", "The same presigned URL works several times until it expires",
           "presigned", ["CPS-PRE-007"])
def presigned_reuse(ctx):
    from cps.conformance import wire

    ctx.setup({"op": "PutObject", "key": "${p}obj", "body": "reused"})
    req, host = _prepared(ctx, {"op": "GetObject", "key": "${p}obj", "auth": "presigned"})
    for i in range(3):
        resp = wire.send(ctx.run.config.endpoint, req, host)
        rec = {"title": f"the same presigned GetObject, use {i + 1}", "phase": "test",
               "request": {"method": "GET", "target": wire.redact_target(req.target()), "headers": [], "body_length": 0,
                           "body_preview": ""},
               "response": {"status": resp.status, "reason": resp.reason, "headers": resp.headers,
                            "body_length": resp.length, "body_preview": resp.body[:500].decode("utf-8", "replace")}}
        ctx.exchanges.append(rec)
        if resp.status != 200 or resp.body != b"reused":
            ctx.fail(f"use {i + 1} of the same presigned URL was answered {resp.status}", rec)
        time.sleep(1.05)  # a different second: a server must not treat the URL as a one-time token


@code_test("sec-no-secret-in-responses", "No response carries the secret key or the signature the server computed",
           "core", ["CPS-SEC-003"])
def no_secrets(ctx):
    from cps.conformance import wire

    creds = ctx.run.config.credentials
    region = ctx.run.config.endpoint.region
    responses = []
    for step in ({"op": "PutObject", "key": "${p}obj", "body": "data", "auth": "wrong-secret"},
                 {"op": "GetObject", "key": "${p}missing", "auth": "wrong-secret"},
                 {"op": "GetObject", "key": "${p}missing"}):
        req, host = _prepared(ctx, step)
        # the signature the server would compute with the real secret, for the request as sent
        auth = req.header("Authorization") or ""
        signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";") if "SignedHeaders=" in auth else []
        ts = req.header("X-Amz-Date") or ""
        creq = wire.canonical_request(req.method, req.path, req.params, req.headers, signed,
                                      req.header("X-Amz-Content-SHA256") or "", req.raw_path)
        sts = wire.string_to_sign(ts, f"{ts[:8]}/{region}/s3/aws4_request", creq)
        good = hmac.new(wire.signing_key(creds.secret_key, ts[:8], region), sts.encode(), hashlib.sha256).hexdigest()
        resp = wire.send(ctx.run.config.endpoint, req, host)
        text = resp.body.decode("latin-1") + "\n".join(f"{k}: {v}" for k, v in resp.headers)
        responses.append((step, resp, text, good))
    for step, resp, text, good in responses:
        leaks = []
        if creds.secret_key and creds.secret_key in text:
            leaks.append("the secret access key")
        if good in text:
            leaks.append("the signature computed with the secret key")
        if creds.token and creds.token in text:
            leaks.append("the session token")
        if leaks:
            rec = _note(ctx, f"{step['op']} ({step.get('auth', 'header')})", step["op"], resp.status,
                        "(response withheld: it contains a secret)", [f"the response contains {', '.join(leaks)}"])
            ctx.fail(f"a {resp.status} response to {step['op']} contains {', '.join(leaks)}", rec)


def _tls_endpoint(ctx):
    from cps.conformance.runner import NOT_APPLICABLE, Skipped

    ep = ctx.run.config.endpoint
    if ep.scheme != "https":
        raise Skipped(f"{NOT_APPLICABLE}: the endpoint uses plain http (CPS-HTTP-009 allows it on loopback and in test setups)")
    return ep


def _handshake(ep, minimum=None, maximum=None, verify=True) -> tuple[bool, str]:
    ctx = ssl.create_default_context(cafile=ep.ca_bundle)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    try:
        with socket.create_connection((ep.host, ep.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=ep.host) as s:
                return True, s.version() or ""
    except (ssl.SSLError, OSError) as exc:
        return False, str(exc)


@code_test("tls-no-old-versions", "The server completes no TLS handshake below TLS 1.2", "core", ["CPS-HTTP-006"])
def tls_old(ctx):
    ep = _tls_endpoint(ctx)
    ok, info = _handshake(ep, maximum=ssl.TLSVersion.TLSv1_1, verify=False)
    if ok:
        ctx.fail(f"a TLS handshake limited to TLS 1.1 succeeded ({info})")


@code_test("tls-versions", "The server supports TLS 1.2 and TLS 1.3", "core", ["CPS-HTTP-007"])
def tls_versions(ctx):
    ep = _tls_endpoint(ctx)
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ok, info = _handshake(ep, minimum=v, maximum=v, verify=False)
        if not ok:
            ctx.fail(f"no {v.name} handshake: {info}")


@code_test("tls-certificate", "The server's certificate chain is valid for the endpoint's host name", "core", ["CPS-HTTP-008"])
def tls_certificate(ctx):
    ep = _tls_endpoint(ctx)
    ok, info = _handshake(ep, verify=True)
    if not ok:
        ctx.fail(f"certificate verification failed: {info}")
