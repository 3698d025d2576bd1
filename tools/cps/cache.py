# SPDX-License-Identifier: Apache-2.0
"""A small content-addressed cache for expensive, pure computations (parsing, validation).

Entries live under ``<repo>/.cache/<kind>/`` and are keyed by a hash of everything the result
depends on: the input text, the versions of the libraries involved and the source of the module
that computes it. A stale entry can therefore never be used; a corrupt one is ignored.
``CPS_NO_CACHE=1`` switches the cache off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

ROOT: Path | None = None  # set by the loader to the repository being loaded


@lru_cache(maxsize=None)
def code_version(*modules: str) -> str:
    """A hash of the given modules' source files: a change in the code invalidates its entries."""
    import importlib.util

    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and os.path.isfile(spec.origin):
            h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()[:16]


def enabled() -> bool:
    return ROOT is not None and not os.environ.get("CPS_NO_CACHE")


def _path(kind: str, parts: tuple) -> Path:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
        h.update(b"\0")
    key = h.hexdigest()
    return ROOT / ".cache" / kind / key[:2] / key  # type: ignore[operator]


def cached(kind: str, parts: tuple, compute: Callable[[], Any]) -> Any:
    if not enabled():
        return compute()
    path = _path(kind, parts)
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception:
            pass
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # read-only checkout: run without the cache
    return value
