"""Deterministic generated object data, streamed in chunks (never a whole object in memory).

Block ``i`` (1 MiB) of the stream for ``seed`` is SHAKE-128(``cps:<seed>:<i>``) truncated to the
block length: SHA-3's extendable-output function used in counter mode. Any runner in any
language reproduces the same bytes from (seed, size) alone.
"""

from __future__ import annotations

import hashlib
import zlib
import base64
from typing import Iterator

BLOCK = 1 << 20


def blocks(seed: str, size: int, chunk: int = BLOCK) -> Iterator[bytes]:
    """The bytes of (seed, size), in pieces of at most ``chunk`` bytes."""
    i = 0
    remaining = size
    while remaining > 0:
        n = min(BLOCK, remaining)
        block = hashlib.shake_128(f"cps:{seed}:{i}".encode()).digest(n)
        for off in range(0, n, chunk):
            yield block[off:off + chunk]
        remaining -= n
        i += 1


def digest(seed: str, size: int) -> dict[str, str]:
    """sha256 (hex), md5 (hex) and crc32 (base64, as in x-amz-checksum-crc32) of the stream."""
    s, m, c = hashlib.sha256(), hashlib.md5(), 0
    for b in blocks(seed, size):
        s.update(b)
        m.update(b)
        c = zlib.crc32(b, c)
    return {"sha256": s.hexdigest(), "md5": m.hexdigest(),
            "crc32": base64.b64encode(c.to_bytes(4, "big")).decode()}


def head(seed: str, size: int, n: int) -> bytes:
    """The first ``n`` bytes (for request previews in reports)."""
    out = bytearray()
    for b in blocks(seed, min(size, n)):
        out += b
    return bytes(out)


def slice_digest(seed: str, size: int, start: int, end: int) -> str:
    """sha256 of bytes [start, end] (inclusive, as in HTTP ranges) of the stream."""
    h = hashlib.sha256()
    pos = 0
    for b in blocks(seed, size):
        lo, hi = max(start, pos), min(end + 1, pos + len(b))
        if lo < hi:
            h.update(b[lo - pos:hi - pos])
        pos += len(b)
        if pos > end:
            break
    return h.hexdigest()
