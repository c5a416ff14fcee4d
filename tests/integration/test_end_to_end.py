"""A postback through the real broker into the view: the foundation's acceptance."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from catalog_contract import codec, schemas
from catalog_stream.topic_admin import describe
from tests.support import (
    AUTH,
    Topics,
    read_topic,
    receiver_settings,
    running_receiver,
    running_services,
)

pytestmark = pytest.mark.broker

POSTBACK = {
    "CatalogId": "42",
    "CatalogItemId": "sku-1",
    "Name": "Enamel mug",
    "Description": "Blue, 350 ml",
    "Manufacturer": "Acme",
    "Category": "Kitchen",
    "Labels": "new,sale",
    "Url": "https://shop.example/mug",
    "ImageUrl": "https://shop.example/mug.jpg",
    "CurrentPrice": "1,299.99",
    "OriginalPrice": "1,499.00",
    "DiscountPercentage": "13",
    "Currency": "eur",
    "StockAvailability": "InStock",
    "Gtin": "04012345678901",
    "Mpn": "MUG-350",
    "Sku": "sku-1",
    "DateLastUpdated": "2026-11-27T10:00:00+01:00",
    "ChangeType": "updated",
}


async def test_postback_is_readable_from_the_view_field_for_field(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    async with running_services(kafka_bootstrap, topics, tmp_path / "v.db") as (
        receiver,
        projector,
    ):
        accepted = await receiver.post("/v1/postbacks/product-changes", json=POSTBACK, headers=AUTH)
        assert accepted.status_code == 200, accepted.text
        ack = accepted.json()
        item = await projector.get(
            "/v1/catalogs/42/items/sku-1", params={"min_position": ack["position"]}
        )
        assert item.status_code == 200, item.text
        view = item.json()
    assert view["last_event_id"] == ack["event_id"]
    assert view["position"] == f"{ack['partition']}:{ack['offset']}"
    assert {k: view[k] for k in ("name", "description", "manufacturer", "category", "url")} == {
        "name": "Enamel mug",
        "description": "Blue, 350 ml",
        "manufacturer": "Acme",
        "category": "Kitchen",
        "url": "https://shop.example/mug",
    }
    assert view["labels"] == ["new", "sale"]
    assert (view["current_price"], view["original_price"]) == ("1299.99", "1499.00")
    assert (view["discount_percentage"], view["currency"]) == (13, "EUR")
    assert view["stock_availability"] == "IN_STOCK"
    assert (view["gtin"], view["mpn"], view["sku"]) == ("04012345678901", "MUG-350", "sku-1")
    assert view["source_updated_at"] == "2026-11-27T09:00:00+00:00"
    assert view["revision"] == 1


async def test_later_postback_wins_and_the_topic_is_compacted(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    later = {**POSTBACK, "CurrentPrice": "9.50", "DateLastUpdated": "2026-11-27T11:00:00Z"}
    async with running_services(kafka_bootstrap, topics, tmp_path / "v.db") as (
        receiver,
        projector,
    ):
        for body in (POSTBACK, later):
            response = await receiver.post("/v1/postbacks/product-changes", json=body, headers=AUTH)
            assert response.status_code == 200
        position = response.json()["position"]
        page = await projector.get("/v1/catalogs/42/items", params={"min_position": position})
        catalog = await projector.get("/v1/catalogs/42")
    items = page.json()["items"]
    assert [(i["item_id"], i["current_price"], i["revision"]) for i in items] == [
        ("sku-1", "9.50", 2)
    ]
    assert catalog.json()["item_count"] == 1
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        state = await describe(admin, topics.product)
    finally:
        await admin.close()
    assert state.configs["cleanup.policy"] == "compact"
    assert state.partitions == 3


async def test_value_on_the_topic_is_single_object_encoded(
    kafka_bootstrap: str, topics: Topics
) -> None:
    async with running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver:
        response = await receiver.post("/v1/postbacks/product-changes", json=POSTBACK, headers=AUTH)
        assert response.status_code == 200
    [record] = await read_topic(kafka_bootstrap, topics.product)
    assert record.key == b"42:sku-1"
    assert record.value[:2] == bytes.fromhex("c301")
    assert record.value[2:10] == schemas.crc64_avro(
        schemas.current().canonical_form.encode()
    ).to_bytes(8, "little")
    assert str(codec.decode(record.value).event_id) == response.json()["event_id"]
