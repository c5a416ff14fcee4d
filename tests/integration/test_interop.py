"""Independent proof the topic is standard: Apache Avro's Java library reads what the receiver
wrote (it checks the C3 01 header and the schema fingerprint itself)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from catalog_contract import codec, schemas
from catalog_stream.java_libs import ensure_jars
from tests.factories import change
from tests.support import AUTH, Topics, read_topic, receiver_settings, running_receiver

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "avro-java"


def java_decode(values: list[bytes]) -> list[str]:
    lib = ensure_jars(TOOL / "lib", TOOL / "pom.xml")
    reader, *older = reversed(schemas.all_versions())
    result = subprocess.run(
        ["java", "-cp", f"{lib}/*", str(TOOL / "DecodeSingleObject.java"), str(reader.path),
         *(str(v.path) for v in older)],
        input="\n".join(v.hex() for v in values),
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return result.stdout.splitlines()


async def test_apache_avro_java_reads_what_the_receiver_wrote(
    kafka_bootstrap: str, topics: Topics
) -> None:
    postback = {
        "CatalogId": "42",
        "CatalogItemId": "sku-1",
        "CurrentPrice": "1,299.99",
        "StockAvailability": "in stock",
        "Labels": "a,b",
    }
    async with running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver:
        answer = await receiver.post("/v1/postbacks/product-changes", json=postback, headers=AUTH)
        assert answer.status_code == 200
    [record] = await read_topic(kafka_bootstrap, topics.product)
    v1_value = codec.encode(change("old", price="3"), schemas.all_versions()[0])
    lines = java_decode([record.value, v1_value, b"\xc3\x01" + b"\x00" * 9])
    decoded = json.loads(lines[0], parse_float=Decimal)
    assert decoded["event_id"] == answer.json()["event_id"]
    assert (decoded["catalog_id"], decoded["catalog_item_id"]) == ("42", "sku-1")
    assert str(decoded["current_price"]) == "1299.9900"  # exact: Java's BigDecimal, scale 4
    assert decoded["stock_availability"] == "IN_STOCK"
    assert decoded["labels"] == ["a", "b"]
    older = json.loads(lines[1])  # written with v1, resolved to v2 by Java's own rules
    assert (older["catalog_item_id"], older["shipping_cost"]) == ("old", None)
    assert lines[2].startswith("ERROR MissingSchemaException")  # an unknown fingerprint is refused


async def test_example_consumer_reads_events_and_tombstones(
    kafka_bootstrap: str, topics: Topics
) -> None:
    from catalog_contract.events import ChangeType
    from tests.support import produce_events

    await produce_events(
        kafka_bootstrap,
        topics.product,
        [change("e1", price="5"), change("e1", minute=1, kind=ChangeType.REMOVED)],
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "examples" / "consumer.py"), "--bootstrap-servers", kafka_bootstrap,
         "--topic", topics.product, "--group", f"example-{topics.product}", "--max-records", "3"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.splitlines() == [
        "updated  42/e1 price=5.0000 stock=None",
        "removed  42/e1 price=None stock=None",
        "removed  42/e1",
    ]
