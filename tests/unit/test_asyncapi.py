"""docs/asyncapi.yaml is valid AsyncAPI and says what the code does (CI catches drift)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from catalog_contract import schemas, topics

ROOT = Path(__file__).resolve().parents[2]
DOC: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
SPECS = ROOT / "tools" / "asyncapi" / "node_modules" / "@asyncapi" / "specs" / "schemas"


def test_document_validates_against_the_asyncapi_3_json_schema() -> None:
    spec = json.loads((SPECS / "3.0.0.json").read_text())
    # The bundled schema names its parts by $id under "definitions"; register each.
    registry: Registry[Any] = Registry().with_resources(
        (part["$id"], Resource.from_contents(part, default_specification=DRAFT7))
        for part in spec["definitions"].values()
        if isinstance(part, dict) and "$id" in part
    )
    errors = sorted(Draft7Validator(spec, registry=registry).iter_errors(DOC), key=str)
    assert errors == []
    broken = {**DOC, "channels": {"x": {"address": 42}}}
    assert list(Draft7Validator(spec, registry=registry).iter_errors(broken))  # it can fail


def test_channels_match_the_contract_topics() -> None:
    product = topics.product_topic()
    channel = DOC["channels"]["productChanges"]
    assert channel["address"] == channel["bindings"]["kafka"]["topic"] == product.name
    assert channel["bindings"]["kafka"]["partitions"] == product.partitions
    assert channel["bindings"]["kafka"]["replicas"] == product.replication_factor
    assert channel["x-topic-configs"] == product.configs
    binding = channel["bindings"]["kafka"]["topicConfiguration"]
    assert binding["cleanup.policy"] == [product.configs["cleanup.policy"]]
    assert str(binding["delete.retention.ms"]) == product.configs["delete.retention.ms"]
    dead = topics.dead_letter_topic()
    dead_channel = DOC["channels"]["deadLetters"]
    assert dead_channel["address"] == dead.name
    assert (
        str(dead_channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"])
        == dead.configs["retention.ms"]
    )
    assert (
        str(dead_channel["bindings"]["kafka"]["topicConfiguration"]["max.message.bytes"])
        == dead.configs["max.message.bytes"]
    )


def test_payload_is_the_current_schema_file() -> None:
    payload = DOC["components"]["messages"]["ProductChange"]["payload"]
    target = (ROOT / "docs" / payload["schema"]["$ref"]).resolve()
    assert target == schemas.current().path.resolve()
    assert DOC["info"]["version"].split(".")[0] == str(schemas.current().version)


def test_dead_letter_payload_is_the_current_dead_letter_schema_file() -> None:
    payload = DOC["components"]["messages"]["DeadLetter"]["payload"]
    target = (ROOT / "docs" / payload["schema"]["$ref"]).resolve()
    assert target == schemas.current(schemas.DEAD_LETTER).path.resolve()
