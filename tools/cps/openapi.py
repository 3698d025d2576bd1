"""The published OpenAPI document: the source with every body schema inlined, plus derived data.

``schemas/openapi.yaml`` references ``schemas/bodies/*.yaml`` by file so each schema is edited in
one place. Tool authors get one self-contained document (``dist/openapi.{yaml,json}``) in which
``components.schemas`` holds the schemas themselves and each operation lists the requirement IDs
stated in its RFC section (``x-cps-requirements``).
"""

from __future__ import annotations

import copy
from typing import Any

from cps.model import Location, Spec

SCHEMA_REF_PREFIX = "#/components/schemas/"
DROP_IN_BUNDLE = ("$schema",)


def schema_file_ref(value: Any) -> str | None:
    """``bodies/Error.yaml`` for a ``{$ref: bodies/Error.yaml}`` component entry."""
    if isinstance(value, dict) and isinstance(value.get("$ref"), str) and not value["$ref"].startswith("#"):
        return value["$ref"]
    return None


def bundle(spec: Spec, with_requirements: bool = True) -> dict[str, Any]:
    doc = copy.deepcopy(spec.openapi or {})
    schemas = (doc.get("components") or {}).get("schemas") or {}
    by_rel = {s.rel: s for s in spec.schemas.values()}
    for name, value in list(schemas.items()):
        ref = schema_file_ref(value)
        if ref is None:
            continue
        target = by_rel.get(f"schemas/{ref}".replace("/./", "/"))
        if target is None:
            continue
        inlined = {k: v for k, v in copy.deepcopy(target.data).items() if k not in DROP_IN_BUNDLE}
        schemas[name] = inlined
    if spec.version != "draft":
        doc.setdefault("info", {})["version"] = spec.version
    if with_requirements:
        for key, item in (doc.get("paths") or {}).items():
            for method, op in (item or {}).items():
                if isinstance(op, dict) and op.get("operationId") in spec.operations:
                    reqs = spec.operations[op["operationId"]].requirements
                    if reqs:
                        op["x-cps-requirements"] = list(reqs)
    return doc


def source_location(spec: Spec, path: list[Any]) -> Location:
    """Map a path inside the bundled document back to the file and line it came from."""
    path = list(path)
    if len(path) >= 3 and path[0] == "components" and path[1] == "schemas":
        comp = (spec.openapi or {}).get("components", {}).get("schemas", {}).get(path[2])
        ref = schema_file_ref(comp)
        if ref is not None:
            for s in spec.schemas.values():
                if s.rel == f"schemas/{ref}":
                    return spec.yaml_files[s.rel].loc(*path[3:])
    yf = spec.yaml_files.get(spec.openapi_rel)
    if yf is None:
        return Location(spec.openapi_rel, 1, 1)
    return yf.loc(*path)
