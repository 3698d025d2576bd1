# SPDX-License-Identifier: Apache-2.0
"""Fidelity to S3: the definition must be a subset of the official S3 service model.

The model is the one AWS publishes in botocore (``botocore/data/s3/2006-03-01/service-2.json``),
read from the installed package, offline. Every operation (name, HTTP method, URI), header and
query-parameter name, response header and XML element name in ``schemas/`` must exist in S3 with
the same name and a compatible type. A deliberate deviation carries
``x-cps-fidelity-exception: <reason>`` on the node that deviates; anything else is an error.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterator

from cps.diagnostics import Diagnostic, Location, rule
from cps.model import Operation, Spec

FID_OPERATION = rule("FID001", "fidelity-operation", "An OpenAPI operation is not an S3 operation, or its method or URI differs from S3's.")
FID_PARAMETER = rule("FID002", "fidelity-parameter", "A header or query parameter does not exist in the S3 operation, or its type is incompatible.")
FID_RESPONSE = rule("FID003", "fidelity-response-header", "A response header does not exist in the S3 operation's output.")
FID_ELEMENT = rule("FID004", "fidelity-xml-element", "An XML element of a body schema does not exist in the S3 shape, or its type is incompatible.")
FID_EXCEPTION = rule("FID005", "fidelity-exception-reason", "An x-cps-fidelity-exception has no written reason.")

EXCEPTION = "x-cps-fidelity-exception"
LOCATIONS = {"path": "uri", "query": "querystring", "header": "header"}
COMPATIBLE = {
    "string": {"string", "timestamp", "blob"},
    "integer": {"integer", "long"},
    "number": {"integer", "long", "float", "double"},
    "boolean": {"boolean"},
    "object": {"structure", "map"},
    "array": {"list"},
}


@lru_cache(maxsize=1)
def s3_model() -> dict[str, Any]:
    import botocore.loaders

    return botocore.loaders.Loader().load_service_model("s3", "service-2")


def _exception(node: Any) -> str | None:
    if isinstance(node, dict) and EXCEPTION in node:
        return str(node.get(EXCEPTION) or "")
    return None


def _schema_type(schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return None
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "enum" in schema:
        return "string"
    return t


def split_uri(uri: str) -> tuple[str, list[str]]:
    path, _, query = uri.partition("?")
    path = path.replace("+}", "}")
    tokens = [q for q in query.split("&") if q and not q.startswith("x-id=")]
    return path, tokens


def _op_yaml_loc(spec: Spec, op: Operation, *path: Any) -> Location:
    return spec.yaml_files[spec.openapi_rel].loc("paths", op.path, op.method.lower(), *path)


def _raw_params(spec: Spec, op: Operation) -> list[tuple[dict, tuple]]:
    from cps.loader import resolve_local

    doc = spec.openapi or {}
    out = []
    item = (doc.get("paths") or {}).get(op.path) or {}
    for i, raw in enumerate(item.get("parameters") or []):
        out.append((resolve_local(doc, raw), ("paths", op.path, "parameters", i), raw))
    for i, raw in enumerate(op.raw.get("parameters") or []):
        out.append((resolve_local(doc, raw), ("paths", op.path, op.method.lower(), "parameters", i), raw))
    return [(p, path) for p, path, raw in out if isinstance(p, dict)]


def check_fidelity(spec: Spec) -> Iterator[Diagnostic]:
    if spec.openapi is None:
        return
    model = s3_model()
    ops, shapes = model["operations"], model["shapes"]
    yf = spec.yaml_files[spec.openapi_rel]
    body_shapes: dict[str, list[tuple[str, str | None, str]]] = {}  # schema -> [(shape, op, what)]
    for op in spec.operations.values():
        reason = _exception(op.raw)
        if reason == "":
            yield FID_EXCEPTION.at(_op_yaml_loc(spec, op, EXCEPTION), f"{op.id}: {EXCEPTION} needs a reason")
        s3op = ops.get(op.id)
        if s3op is None:
            if reason is None:
                yield FID_OPERATION.at(op.location, f"{op.id} is not an operation of the S3 API (botocore model)")
            continue
        method, uri = s3op["http"]["method"], s3op["http"]["requestUri"]
        s3_path, s3_query = split_uri(uri)
        our_path = op.path.split("#", 1)[0]
        if method != op.method or s3_path != our_path:
            if reason is None:
                yield FID_OPERATION.at(
                    op.location, f"{op.id} is {op.method} {our_path} here but {method} {uri} in S3"
                )
        dispatch = op.extensions.get("x-cps-dispatch") or {}
        our_query = [str(q) for q in (dispatch.get("query") or [])] if isinstance(dispatch, dict) else []
        for token in s3_query:
            if token not in our_query and reason is None:
                yield FID_OPERATION.at(
                    op.location,
                    f"S3 tells {op.id} apart by the query `{token}`; x-cps-dispatch.query does not say so",
                )
        in_shape = shapes[s3op["input"]["shape"]]
        members = in_shape.get("members", {})
        for p, path in _raw_params(spec, op):
            yield from _check_param(spec, op, p, path, members, shapes)
        out_name = (s3op.get("output") or {}).get("shape")
        out_shape = shapes.get(out_name, {}) if out_name else {}
        out_headers = {
            (m.get("locationName") or k).lower(): m
            for k, m in out_shape.get("members", {}).items()
            if m.get("location") in ("header", "headers")
        }
        prefixes = [h for h, m in out_headers.items() if m.get("location") == "headers"]
        for status, resp in op.responses.items():
            if not status.startswith("2") and not status.startswith("3"):
                continue
            raw = _response_raw(spec, op, status)
            for hname, h in resp.headers.items():
                if _exception(h) is not None or _exception((raw.get("headers") or {}).get(hname)) is not None:
                    continue
                key = hname.lower()
                if key in out_headers or any(key.startswith(pfx) for pfx in prefixes) or key in _GENERIC_HEADERS:
                    continue
                yield FID_RESPONSE.at(
                    yf.loc("paths", op.path, op.method.lower(), "responses", status, "headers", hname),
                    f"{op.id} {status}: response header {hname} is not in S3's {out_name}",
                )
            for mt, schema_name in resp.media_types.items():
                if schema_name and "xml" in mt:
                    payload = out_shape.get("payload")
                    shape = out_shape["members"][payload]["shape"] if payload else out_name
                    body_shapes.setdefault(schema_name, []).append((shape, op.id, f"{status} response"))
        for mt, schema_name in op.request_body.items():
            if schema_name and "xml" in mt:
                payload = in_shape.get("payload")
                if payload:
                    body_shapes.setdefault(schema_name, []).append(
                        (members[payload]["shape"], op.id, "request")
                    )
    for name, schema in spec.schemas.items():
        syf = spec.yaml_files[schema.rel]
        reason = _exception(schema.data)
        if reason == "":
            yield FID_EXCEPTION.at(syf.loc(EXCEPTION), f"schema {name}: {EXCEPTION} needs a reason")
        if reason is not None:
            continue
        used = body_shapes.get(name)
        if not used:
            yield FID_ELEMENT.at(
                syf.loc(),
                f"schema {name} is not the body of any S3 operation in the OpenAPI document, so it cannot be "
                f"traced to the S3 model",
                hint=f"use it as a request or 2xx response body, or add {EXCEPTION} with a reason",
            )
            continue
        shape_name, op_id, what = used[0]
        yield from _compare(syf, schema.data, shapes, shape_name, (), f"{name} ({op_id} {what}, S3 shape {shape_name})")


# Headers every HTTP response may carry, and that S3's model does not list per operation.
_GENERIC_HEADERS = {
    "x-amz-request-id", "x-amz-id-2", "date", "content-length", "connection", "server",
    "access-control-allow-origin", "access-control-expose-headers", "vary", "etag", "content-type",
}


def _response_raw(spec: Spec, op: Operation, status: str) -> dict:
    from cps.loader import resolve_local

    raw = (op.raw.get("responses") or {}).get(status) or {}
    r = resolve_local(spec.openapi or {}, raw)
    return r if isinstance(r, dict) else {}


def _check_param(spec, op, p, path, members, shapes) -> Iterator[Diagnostic]:
    yf = spec.yaml_files[spec.openapi_rel]
    name, where = str(p.get("name", "")), str(p.get("in", ""))
    reason = _exception(p)
    if reason == "":
        yield FID_EXCEPTION.at(yf.loc(*path, EXCEPTION), f"{op.id} parameter {name}: {EXCEPTION} needs a reason")
    if reason is not None:
        return
    want = LOCATIONS.get(where)
    found = None
    for mname, m in members.items():
        loc = m.get("location")
        lname = m.get("locationName") or mname
        if loc == want and (lname.lower() == name.lower() if want == "header" else lname == name):
            found = m
            break
    if found is None:
        yield FID_PARAMETER.at(
            yf.loc(*path, "name"),
            f"{op.id}: {where} parameter {name} does not exist in S3's {op.id} request",
        )
        return
    ours = _schema_type(p.get("schema"))
    theirs = shapes.get(found["shape"], {}).get("type")
    if ours and theirs and theirs not in COMPATIBLE.get(ours, {ours}):
        yield FID_PARAMETER.at(
            yf.loc(*path, "schema", "type"),
            f"{op.id}: {name} is {ours} here but {theirs} in S3",
        )


def _element_name(mname: str, member: dict) -> str:
    return member.get("locationName") or mname


def _compare(yf, schema: dict, shapes: dict, shape_name: str, path: tuple, what: str) -> Iterator[Diagnostic]:
    shape = shapes.get(shape_name, {})
    if shape.get("type") != "structure":
        return
    elements = {
        _element_name(k, m): m for k, m in shape.get("members", {}).items() if m.get("location") is None
    }
    for prop, ps in (schema.get("properties") or {}).items():
        if not isinstance(ps, dict):
            continue
        here = (*path, "properties", prop)
        reason = _exception(ps)
        if reason == "":
            yield FID_EXCEPTION.at(yf.loc(*here, EXCEPTION), f"{what}: {EXCEPTION} on {prop} needs a reason")
        if reason is not None:
            continue
        member = elements.get(prop)
        if member is None:
            yield FID_ELEMENT.at(yf.loc(*here), f"{what}: element <{prop}> does not exist in S3's {shape_name}")
            continue
        target = shapes.get(member["shape"], {})
        ttype = target.get("type")
        ours = _schema_type(ps)
        if ttype == "list":
            item = target.get("member", {})
            if target.get("flattened"):
                if ours != "array":
                    yield FID_ELEMENT.at(yf.loc(*here), f"{what}: <{prop}> repeats in S3 (flattened list); the schema must say type: array")
                    continue
                yield from _compare(yf, ps.get("items") or {}, shapes, item.get("shape", ""), (*here, "items"), what)
            else:
                inner = item.get("locationName") or "member"
                sub = (ps.get("properties") or {}).get(inner) if ours == "object" else None
                if not isinstance(sub, dict) or _schema_type(sub) != "array":
                    yield FID_ELEMENT.at(
                        yf.loc(*here),
                        f"{what}: <{prop}> wraps repeated <{inner}> elements in S3; the schema must be an object with an array property {inner}",
                    )
                    continue
                yield from _compare(yf, sub.get("items") or {}, shapes, item.get("shape", ""), (*here, "properties", inner, "items"), what)
            continue
        if ours and ttype and ttype not in COMPATIBLE.get(ours, {ours}):
            yield FID_ELEMENT.at(yf.loc(*here), f"{what}: <{prop}> is {ours} here but {ttype} in S3's {shape_name}")
            continue
        if ttype == "structure":
            yield from _compare(yf, ps, shapes, member["shape"], here, what)


CHECKS = [check_fidelity]

__all__ = ["CHECKS", "check_fidelity", "s3_model", "split_uri"]
