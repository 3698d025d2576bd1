"""The XML <-> JSON mapping used by CPS's JSON Schemas (see the RFC's OpenAPI appendix).

* The schema describes the content of the root element; the root element's name is the schema's
  ``xml.name``.
* An element with child elements is an object whose properties are named like the children.
* A property whose schema is ``type: array`` collects every occurrence of that child element in
  document order, even a single one. Wrapped lists keep their wrapper element.
* A text-only element is a string, unless its schema says integer, number or boolean; an empty
  element is ``""``, or ``{}`` where the schema says object.
* Attributes and namespace declarations are not part of the JSON value.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as DET
from defusedxml.common import DefusedXmlException


class XmlMappingError(ValueError):
    pass


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _type(schema: dict | None) -> str | None:
    if not isinstance(schema, dict):
        return None
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    return t


def _prop_schema(schema: dict | None, name: str) -> dict | None:
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties") or {}
    return props.get(name) if isinstance(props, dict) else None


def _scalar(text: str, schema: dict | None) -> Any:
    t = _type(schema)
    if t == "integer":
        try:
            return int(text.strip())
        except ValueError:
            return text  # left as a string: schema validation reports the type error
    if t == "number":
        try:
            return float(text.strip())
        except ValueError:
            return text
    if t == "boolean":
        v = text.strip()
        return {"true": True, "false": False}.get(v, v)
    return text


def element_to_json(el: Element, schema: dict | None) -> Any:
    children = list(el)
    t = _type(schema)
    if not children:
        text = el.text or ""
        if t == "object" and not text.strip():
            return {}
        return _scalar(text, schema)
    out: dict[str, Any] = {}
    for child in children:
        name = _local(child.tag)
        ps = _prop_schema(schema, name)
        if _type(ps) == "array":
            item_schema = ps.get("items") if isinstance(ps.get("items"), dict) else None
            out.setdefault(name, []).append(element_to_json(child, item_schema))
        elif name in out:
            # a repeated element the schema does not declare as a list: keep all, validation
            # then reports the type mismatch
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [element_to_json(child, ps)]
        else:
            out[name] = element_to_json(child, ps)
    return out


def xml_to_json(text: str, schema: dict | None) -> tuple[str, Any]:
    """Parse an XML document; return (root element name, JSON value)."""
    try:
        root = DET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
    except (DET.ParseError, DefusedXmlException) as exc:
        raise XmlMappingError(f"XML is not well-formed: {exc}") from None
    return _local(root.tag), element_to_json(root, schema)


def json_to_xml(name: str, value: Any, namespace: str | None = None) -> str:
    """The inverse mapping, used for rendering JSON examples as XML."""
    from xml.sax.saxutils import escape

    def emit(tag: str, v: Any, indent: str) -> list[str]:
        if isinstance(v, list):
            return [line for item in v for line in emit(tag, item, indent)]
        if isinstance(v, dict):
            if not v:
                return [f"{indent}<{tag}/>"]
            inner = [line for k, sub in v.items() for line in emit(k, sub, indent + "  ")]
            return [f"{indent}<{tag}>", *inner, f"{indent}</{tag}>"]
        if isinstance(v, bool):
            v = "true" if v else "false"
        return [f"{indent}<{tag}>{escape(str(v))}</{tag}>"]

    lines = emit(name, value, "")
    if namespace and lines:
        first = lines[0]
        if first.endswith("/>"):
            lines[0] = first[:-2] + f' xmlns="{namespace}"/>'
        else:
            lines[0] = first.replace(f"<{name}>", f'<{name} xmlns="{namespace}">', 1)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(lines) + "\n"
