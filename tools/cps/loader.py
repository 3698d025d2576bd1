"""Sources -> :class:`cps.model.Spec`. Everything is read and parsed exactly once here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cps.diagnostics import Diagnostic, Location, rule
from cps.markdown import parse_document
from cps.model import ErrorCode, Example, Operation, Parameter, Profile, Response, Schema, Spec
from cps.yamlio import YamlFile, load_yaml, to_plain

MISSING = rule("SRC001", "missing-source", "A required source file is missing or has the wrong shape.")

HTTP_METHODS = ("get", "put", "post", "delete", "head", "options", "patch", "trace")
ROOT_MARKER = Path("spec") / "cps.yaml"


class NotARepository(Exception):
    pass


def find_root(start: Path | None = None) -> Path:
    """The repository containing ``start`` (like git): the nearest parent holding spec/cps.yaml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ROOT_MARKER).is_file():
            return candidate
    raise NotARepository(
        f"{here} is not inside a CPS specification repository (no {ROOT_MARKER} here or in any parent)"
    )


def _yaml(spec: Spec, rel: str, required: bool = True) -> YamlFile | None:
    if not (spec.root / rel).is_file():
        if required:
            spec.load_diagnostics.append(MISSING.at(Location(rel, 1, 1), f"required file {rel} is missing"))
        return None
    yf, diags = load_yaml(spec.root, rel)
    spec.load_diagnostics.extend(diags)
    if yf is not None:
        spec.yaml_files[rel] = yf
    return yf


def _mapping(spec: Spec, yf: YamlFile, value: Any, what: str, *path: Any) -> dict:
    if isinstance(value, dict):
        return value
    if value is not None:
        spec.load_diagnostics.append(MISSING.at(yf.loc(*path), f"{what} must be a mapping"))
    return {}


def load(root: Path) -> Spec:
    from cps import cache

    spec = Spec(root=root)
    cache.ROOT = root
    _load_meta(spec)
    _load_profiles(spec)
    _load_errors(spec)
    _load_documents(spec)
    _load_schemas(spec)
    _load_openapi(spec)
    _collect_examples(spec)
    return spec


def _load_meta(spec: Spec) -> None:
    yf = _yaml(spec, "spec/cps.yaml")
    if yf is None:
        return
    meta = _mapping(spec, yf, to_plain(yf.data), "spec/cps.yaml")
    spec.meta = meta
    spec.title = str(meta.get("title") or spec.title)
    spec.short_name = str(meta.get("short_name") or spec.short_name)
    spec.version = str(meta.get("version") or "draft")
    spec.status = str(meta.get("status") or "Draft")
    spec.date = str(meta["date"]) if meta.get("date") else None
    spec.id_areas = {str(k): str(v) for k, v in _mapping(spec, yf, meta.get("id_areas"), "id_areas", "id_areas").items()}
    spec.retired_ids = {
        str(k): str(v) for k, v in _mapping(spec, yf, meta.get("retired_ids"), "retired_ids", "retired_ids").items()
    }


def _load_profiles(spec: Spec) -> None:
    yf = _yaml(spec, "spec/profiles.yaml")
    if yf is None:
        return
    data = to_plain(yf.data) or {}
    items = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(items, list):
        spec.load_diagnostics.append(MISSING.at(yf.loc(), "spec/profiles.yaml must have a `profiles` list"))
        return
    for i, p in enumerate(items):
        if not isinstance(p, dict) or "id" not in p:
            spec.load_diagnostics.append(MISSING.at(yf.loc("profiles", i), "a profile needs an `id`"))
            continue
        spec.profiles[str(p["id"])] = Profile(
            id=str(p["id"]),
            name=str(p.get("name", p["id"])),
            summary=str(p.get("summary", "")),
            requires=[str(r) for r in p.get("requires") or []],
            location=yf.loc("profiles", i, "id"),
        )


def _load_errors(spec: Spec) -> None:
    yf = _yaml(spec, "spec/errors.yaml")
    if yf is None:
        return
    data = to_plain(yf.data) or {}
    table = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        spec.load_diagnostics.append(MISSING.at(yf.loc(), "spec/errors.yaml must have an `errors` mapping"))
        return
    for code, entry in table.items():
        entry = entry if isinstance(entry, dict) else {}
        status = entry.get("status")
        if not isinstance(status, int):
            spec.load_diagnostics.append(
                MISSING.at(yf.loc("errors", code), f"error {code} needs an integer `status`")
            )
            status = 0
        spec.errors[code] = ErrorCode(code, status, str(entry.get("description", "")), yf.loc("errors", code))


def _load_documents(spec: Spec) -> None:
    from cps import cache

    spec_dir = spec.root / "spec"
    for path in sorted(spec_dir.glob("*.md")):
        rel = path.relative_to(spec.root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            spec.load_diagnostics.append(MISSING.at(Location(rel, 1, 1), f"file is not UTF-8: {exc.reason}"))
            continue
        doc, diags = cache.cached(
            "markdown", (cache.code_version("cps.markdown", "cps.model"), rel, text),
            lambda: parse_document(rel, text, path.stem),
        )
        spec.documents.append(doc)
        spec.load_diagnostics.extend(diags)


def _load_schemas(spec: Spec) -> None:
    for path in sorted((spec.root / "schemas" / "bodies").glob("*.yaml")):
        rel = path.relative_to(spec.root).as_posix()
        yf = _yaml(spec, rel)
        if yf is None:
            continue
        data = to_plain(yf.data)
        if not isinstance(data, dict):
            spec.load_diagnostics.append(MISSING.at(yf.loc(), "a JSON Schema must be a mapping"))
            continue
        spec.schemas[path.stem] = Schema(path.stem, rel, data, yf.data, yf.loc())


def _ref_name(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref.startswith("#/components/schemas/"):
            return ref.rsplit("/", 1)[1]
    return None


def resolve_local(doc: dict, node: Any) -> Any:
    """Follow a local ``#/...`` $ref in the OpenAPI document (one level at a time)."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = doc
        for part in node["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                return node
            target = target[part]
        node = target
        seen += 1
        if seen > 20:
            break
    return node


def _load_openapi(spec: Spec) -> None:
    yf = _yaml(spec, spec.openapi_rel)
    if yf is None:
        return
    doc = to_plain(yf.data)
    if not isinstance(doc, dict):
        spec.load_diagnostics.append(MISSING.at(yf.loc(), "the OpenAPI document must be a mapping"))
        return
    spec.openapi = doc
    spec.openapi_yaml = yf.data
    paths = doc.get("paths") if isinstance(doc.get("paths"), dict) else {}
    for key, item in paths.items():
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            loc = yf.loc("paths", key, method)
            op_id = str(op.get("operationId") or f"{method.upper()} {key}")
            params = []
            for raw in [*shared, *(op.get("parameters") or [])]:
                p = resolve_local(doc, raw)
                if not isinstance(p, dict):
                    continue
                params.append(
                    Parameter(
                        name=str(p.get("name", "")),
                        location_in=str(p.get("in", "")),
                        required=bool(p.get("required", False)),
                        schema=p.get("schema") if isinstance(p.get("schema"), dict) else {},
                        description=str(p.get("description", "")),
                    )
                )
            body = resolve_local(doc, op.get("requestBody")) if op.get("requestBody") else None
            request_body = {}
            if isinstance(body, dict):
                for mt, media in (body.get("content") or {}).items():
                    request_body[mt] = _ref_name((media or {}).get("schema"))
            responses = {}
            for status, raw in (op.get("responses") or {}).items():
                r = resolve_local(doc, raw)
                if not isinstance(r, dict):
                    continue
                headers = {}
                for hname, h in (r.get("headers") or {}).items():
                    h = resolve_local(doc, h)
                    headers[hname] = h if isinstance(h, dict) else {}
                media_types = {mt: _ref_name((m or {}).get("schema")) for mt, m in (r.get("content") or {}).items()}
                responses[str(status)] = Response(
                    status=str(status),
                    description=str(r.get("description", "")),
                    headers=headers,
                    media_types=media_types,
                    errors=[str(e) for e in (r.get("x-cps-errors") or [])],
                    location=yf.loc("paths", key, method, "responses", status),
                )
            spec.operations[op_id] = Operation(
                id=op_id,
                method=method.upper(),
                path=key,
                summary=str(op.get("summary", "")),
                profile=op.get("x-cps-profile"),
                requirements=[],
                parameters=params,
                request_body=request_body,
                request_body_required=bool(isinstance(body, dict) and body.get("required")),
                responses=responses,
                raw=op,
                location=loc,
                extensions={k: v for k, v in op.items() if k.startswith("x-")},
            )
    # Requirements stated in an operation's RFC section belong to that operation.
    for d in spec.documents:
        for r in d.requirements:
            if r.section.startswith("op-") and r.section[3:] in spec.operations:
                spec.operations[r.section[3:]].requirements.append(r.id)


def _collect_examples(spec: Spec) -> None:
    # Examples inside the JSON Schemas (JSON form).
    for s in spec.schemas.values():
        yf = spec.yaml_files[s.rel]
        for i, value in enumerate(s.data.get("examples") or []):
            spec.examples.append(
                Example(s.name, "application/json", value, yf.loc("examples", i), f"schema {s.name} example {i + 1}")
            )
    # Examples in the OpenAPI document: bodies of requests and responses.
    if spec.openapi is not None:
        yf = spec.yaml_files[spec.openapi_rel]
        doc = spec.openapi
        paths = doc.get("paths") if isinstance(doc.get("paths"), dict) else {}
        for key, item in paths.items():
            for method in HTTP_METHODS:
                op = (item or {}).get(method) if isinstance(item, dict) else None
                if not isinstance(op, dict):
                    continue
                op_id = op.get("operationId", f"{method} {key}")
                places = []
                if isinstance(op.get("requestBody"), dict):
                    places.append((("requestBody",), op["requestBody"], "request"))
                for status, r in (op.get("responses") or {}).items():
                    if isinstance(r, dict) and "content" in r:
                        places.append((("responses", status), r, f"{status} response"))
                for path, holder, what in places:
                    for mt, media in (holder.get("content") or {}).items():
                        if not isinstance(media, dict):
                            continue
                        schema = _ref_name(media.get("schema"))
                        base = ("paths", key, method, *path, "content", mt)
                        if "example" in media:
                            spec.examples.append(
                                Example(schema, mt, media["example"], yf.loc(*base, "example"), f"{op_id} {what} example")
                            )
                        for ename, ex in (media.get("examples") or {}).items():
                            if isinstance(ex, dict) and "value" in ex:
                                spec.examples.append(
                                    Example(
                                        schema,
                                        mt,
                                        ex["value"],
                                        yf.loc(*base, "examples", ename, "value"),
                                        f"{op_id} {what} example {ename}",
                                    )
                                )
        comps = (doc.get("components") or {}).get("responses") or {}
        for rname, r in comps.items():
            if not isinstance(r, dict):
                continue
            for mt, media in (r.get("content") or {}).items():
                if not isinstance(media, dict):
                    continue
                schema = _ref_name(media.get("schema"))
                base = ("components", "responses", rname, "content", mt)
                for ename, ex in (media.get("examples") or {}).items():
                    if isinstance(ex, dict) and "value" in ex:
                        spec.examples.append(
                            Example(schema, mt, ex["value"], yf.loc(*base, "examples", ename, "value"),
                                    f"response {rname} example {ename}")
                        )
    # Examples in the RFC: fenced blocks marked example=Name.
    for d in spec.documents:
        for cb in d.code_blocks:
            if cb.example_of:
                mt = "application/xml" if cb.lang == "xml" else "application/json"
                spec.examples.append(
                    Example(cb.example_of, mt, cb.content, cb.location, f"{d.rel} code block")
                )

