"""The small matcher language of conformance vectors, and XML path lookup.

A matcher is:

* a scalar: the actual value must be present and equal (compared as strings; ``true``/``false``
  for booleans, so ``Content-Length: 5`` matches the header ``"5"``);
* ``null``: the actual value must be absent;
* a list: the actual value must be a list of the same length, item by item;
* a mapping of operators, all of which must hold:
  ``equals``, ``iequals`` (case-insensitive), ``regex`` (full match), ``contains``,
  ``present`` (true/false), ``one_of`` (list of values), ``any_of`` (list of matchers),
  ``not`` (matcher), ``count`` (length of a list, a number or a matcher), ``includes`` /
  ``excludes`` (a list has / lacks an item equal to the value), ``all`` (matcher for every item),
  ``ge``/``gt``/``le``/``lt`` (numbers), ``sorted`` (list in ascending binary order),
  ``etag`` (a quoted entity tag), ``http_date`` (RFC 7231 IMF-fixdate), ``iso8601`` (a timestamp
  such as ``2025-01-01T00:00:00.000Z``), ``same_second`` (an HTTP-date or ISO 8601 time that
  denotes the same whole second as the value given, in either format).

XML paths (``xml:`` in expectations and ``xml.`` in captures) are dot-separated element names
below the root element, namespaces ignored: ``Contents[*].Key`` (every ``Key`` of every
``Contents``), ``Contents[1].Key`` (0-based), ``Error.Code`` is spelled ``Code`` (the root is
``Error``). The special paths ``@root`` and ``@ns`` are the root element's name and namespace.
"""

from __future__ import annotations

import email.utils
import re
from typing import Any

from defusedxml import ElementTree as DET

OPERATORS = {
    "equals", "iequals", "regex", "contains", "present", "one_of", "any_of", "not", "count",
    "includes", "excludes", "all", "ge", "gt", "le", "lt", "sorted", "etag", "http_date", "iso8601",
    "same_second",
}

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")
_HTTP_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT")
_ETAG = re.compile(r'(W/)?"[^"]*"')


class MatcherError(ValueError):
    """The matcher itself is malformed (a bug in the vector, reported as an error)."""


def _s(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{v!r} is not a number") from None


def describe(v: Any) -> str:
    if v is None:
        return "absent"
    if isinstance(v, str):
        return repr(v if len(v) <= 200 else v[:200] + "…")
    if isinstance(v, list):
        shown = ", ".join(describe(x) for x in v[:10])
        return f"[{shown}{', …' if len(v) > 10 else ''}] ({len(v)} items)"
    return repr(v)


def match(expected: Any, actual: Any) -> str | None:
    """None when ``actual`` satisfies ``expected``, else a one-line reason."""
    if expected is None:
        return None if actual is None else f"expected absent, got {describe(actual)}"
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"expected a list of {len(expected)} items, got {describe(actual)}"
        if len(expected) != len(actual):
            return f"expected {len(expected)} items {describe(expected)}, got {describe(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            why = match(e, a)
            if why:
                return f"item {i}: {why}"
        return None
    if isinstance(expected, dict):
        unknown = set(expected) - OPERATORS
        if unknown:
            raise MatcherError(f"unknown matcher operator(s): {', '.join(sorted(unknown))}")
        for op, arg in expected.items():
            why = _op(op, arg, actual)
            if why:
                return why
        return None
    if actual is None:
        return f"expected {describe(_s(expected))}, got absent"
    if isinstance(actual, list):
        return f"expected {describe(_s(expected))}, got {describe(actual)}"
    if _s(expected) != _s(actual):
        return f"expected {describe(_s(expected))}, got {describe(_s(actual))}"
    return None


def _op(op: str, arg: Any, actual: Any) -> str | None:
    if op == "present":
        if bool(arg) and actual is None:
            return "expected present, got absent"
        if not bool(arg) and actual is not None:
            return f"expected absent, got {describe(actual)}"
        return None
    if op == "not":
        return None if match(arg, actual) else f"expected not {describe(arg)}, got {describe(actual)}"
    if op == "any_of":
        reasons = [match(m, actual) for m in arg]
        return None if any(r is None for r in reasons) else f"matched none of {describe(arg)}: got {describe(actual)}"
    if op == "one_of":
        return None if (actual is not None and not isinstance(actual, list) and _s(actual) in [_s(x) for x in arg]) \
            else f"expected one of {describe([_s(x) for x in arg])}, got {describe(actual)}"
    if op in ("count", "includes", "excludes", "all", "sorted"):
        if not isinstance(actual, list):
            actual = [] if actual is None else [actual]
        if op == "count":
            if isinstance(arg, (dict, list)):
                why = match(arg, len(actual))
                return f"count: {why}" if why else None
            return None if len(actual) == int(arg) else f"expected {arg} items, got {describe(actual)}"
        if op == "includes":
            return None if _s(arg) in [_s(x) for x in actual] else f"expected an item {describe(_s(arg))}, got {describe(actual)}"
        if op == "excludes":
            return None if _s(arg) not in [_s(x) for x in actual] else f"expected no item {describe(_s(arg))}, got {describe(actual)}"
        if op == "all":
            for i, a in enumerate(actual):
                why = match(arg, a)
                if why:
                    return f"item {i}: {why}"
            return None
        if op == "sorted":
            keys = [_s(x).encode("utf-8") for x in actual]
            ok = keys == sorted(keys)
            return None if ok == bool(arg) else f"expected {'sorted' if arg else 'unsorted'} list, got {describe(actual)}"
    if actual is None:
        return f"expected {op} {describe(arg)}, got absent"
    if isinstance(actual, list):
        return f"expected {op} {describe(arg)}, got {describe(actual)}"
    a = _s(actual)
    if op == "equals":
        return None if a == _s(arg) else f"expected {describe(_s(arg))}, got {describe(a)}"
    if op == "iequals":
        return None if a.lower() == _s(arg).lower() else f"expected {describe(_s(arg))} (any case), got {describe(a)}"
    if op == "regex":
        try:
            ok = re.fullmatch(str(arg), a, re.S) is not None
        except re.error as exc:
            raise MatcherError(f"bad regex {arg!r}: {exc}") from None
        return None if ok else f"expected to match /{arg}/, got {describe(a)}"
    if op == "contains":
        return None if _s(arg) in a else f"expected to contain {describe(_s(arg))}, got {describe(a)}"
    if op in ("ge", "gt", "le", "lt"):
        try:
            x, y = _num(a), _num(arg)
        except ValueError as exc:
            return str(exc)
        ok = {"ge": x >= y, "gt": x > y, "le": x <= y, "lt": x < y}[op]
        sym = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[op]
        return None if ok else f"expected {sym} {_s(arg)}, got {describe(a)}"
    if op == "etag":
        ok = _ETAG.fullmatch(a) is not None
        return None if ok == bool(arg) else f"expected a quoted entity tag, got {describe(a)}"
    if op == "http_date":
        ok = _HTTP_DATE.fullmatch(a) is not None and email.utils.parsedate_to_datetime(a) is not None
        return None if ok == bool(arg) else f"expected an HTTP date (IMF-fixdate), got {describe(a)}"
    if op == "same_second":
        x, y = parse_time(a), parse_time(_s(arg))
        if x is None or y is None:
            return f"expected a time in the same second as {describe(_s(arg))}, got {describe(a)}"
        return None if int(x) == int(y) else f"expected the same second as {describe(_s(arg))}, got {describe(a)}"
    if op == "iso8601":
        ok = _ISO.fullmatch(a) is not None
        return None if ok == bool(arg) else f"expected an ISO 8601 timestamp, got {describe(a)}"
    raise MatcherError(f"unknown matcher operator {op}")  # pragma: no cover


def parse_time(value: str) -> float | None:
    """Seconds since the epoch of an HTTP-date or an ISO 8601 UTC timestamp; None if neither."""
    import datetime as _dt

    v = value.strip()
    if _ISO.fullmatch(v):
        try:
            return _dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    try:
        d = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    return d.timestamp() if d is not None else None


# ---------------------------------------------------------------- XML


class XmlError(ValueError):
    pass


def parse_xml(body: bytes):
    """Parse an XML body (defusedxml: no entities, no external loads); None for an empty body."""
    if not body or not body.strip():
        return None
    try:
        return DET.fromstring(body)
    except Exception as exc:  # ParseError and defusedxml's refusals
        raise XmlError(f"response body is not well-formed XML: {exc}") from None


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_SEG = re.compile(r"([A-Za-z0-9_\-]+)(?:\[(\*|\d+)\])?")


def xml_path(root, path: str) -> Any:
    """Evaluate ``path`` (see module doc); element text ('' for empty), a list with ``[*]``, None if absent."""
    if root is None:
        return None
    if path == "@root":
        return local(root.tag)
    if path == "@ns":
        return root.tag[1:].split("}", 1)[0] if isinstance(root.tag, str) and root.tag.startswith("{") else None
    nodes = [root]
    multi = False
    for seg in path.split("."):
        m = _SEG.fullmatch(seg)
        if not m:
            raise MatcherError(f"bad XML path segment {seg!r} in {path!r}")
        name, idx = m.group(1), m.group(2)
        nxt = []
        for n in nodes:
            kids = [c for c in n if local(c.tag) == name]
            if idx == "*":
                nxt.extend(kids)
            elif idx is not None:
                i = int(idx)
                if i < len(kids):
                    nxt.append(kids[i])
            elif kids:
                nxt.append(kids[0])
        if idx == "*":
            multi = True
        nodes = nxt
    texts = [(n.text or "") if len(n) == 0 else (n.text or "").strip() for n in nodes]
    if multi:
        return texts
    return texts[0] if texts else None
