"""The XML <-> JSON mapping of the RFC's Appendix A, tested on its rules and on every real schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from cps.loader import load
from cps.xmlmap import XmlMappingError, json_to_xml, xml_to_json

ROOT = Path(__file__).resolve().parents[1]
SPEC = load(ROOT)

LIST_SCHEMA = {
    "type": "object",
    "properties": {
        "IsTruncated": {"type": "boolean"},
        "KeyCount": {"type": "integer"},
        "Contents": {"type": "array", "items": {"type": "object", "properties": {"Size": {"type": "integer"}}}},
        "Buckets": {"type": "object", "properties": {"Bucket": {"type": "array", "items": {"type": "object"}}}},
        "Owner": {"type": "object"},
    },
}


def test_rules_flattened_list_wrapped_list_scalars_and_empty_elements():
    xml = (
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<IsTruncated>false</IsTruncated><KeyCount>1</KeyCount>"
        "<Contents><Key>a b</Key><Size>3</Size><ETag>&quot;x&quot;</ETag></Contents>"
        "<Buckets><Bucket><Name>b1</Name></Bucket></Buckets><Prefix></Prefix><Owner/></ListBucketResult>"
    )
    root, value = xml_to_json(xml, LIST_SCHEMA)
    assert root == "ListBucketResult"
    assert value == {
        "IsTruncated": False,
        "KeyCount": 1,
        "Contents": [{"Key": "a b", "Size": 3, "ETag": '"x"'}],  # one occurrence is still a list
        "Buckets": {"Bucket": [{"Name": "b1"}]},  # wrapped list keeps its wrapper
        "Prefix": "",
        "Owner": {},
    }


def test_malformed_xml_is_an_error_and_entities_are_refused():
    with pytest.raises(XmlMappingError):
        xml_to_json("<Error><Code>x</Error>", None)
    with pytest.raises(XmlMappingError):
        xml_to_json('<!DOCTYPE x [<!ENTITY e "boom">]><Error><Code>&e;</Code></Error>', None)


@pytest.mark.parametrize("name", sorted(SPEC.schemas))
def test_every_schema_example_round_trips_through_xml(name):
    schema = SPEC.schemas[name].data
    examples = schema.get("examples") or []
    assert examples, f"{name} has no example"
    validator = Draft202012Validator(schema)
    for example in examples:
        xml = json_to_xml(name, example, (schema.get("xml") or {}).get("namespace"))
        root, back = xml_to_json(xml, schema)
        assert root == name
        assert back == example
        assert list(validator.iter_errors(back)) == []
