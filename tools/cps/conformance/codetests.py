"""Code-based conformance tests: what data cannot express (concurrency, tampering mid-stream...).

Each test is a function of a :class:`cps.conformance.runner.TestContext`, registered with the
same metadata as a vector (id, title, profile, requirements). It uses ``ctx.setup(step)`` for
prerequisites (failure: blocked), ``ctx.check(step)`` for verified steps (failure: fail) and
``ctx.send(step)`` to send without judging; steps are the same mappings as in vectors.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

REGISTRY: list[dict[str, Any]] = []


def code_test(id: str, title: str, profile: str, requirements: list[str], bucket: str = "shared",
              description: str = "") -> Callable:
    def deco(fn):
        REGISTRY.append({"id": id, "title": title, "profile": profile, "requirements": list(requirements),
                         "bucket": bucket, "description": description or (fn.__doc__ or "").strip(), "func": fn})
        return fn
    return deco
