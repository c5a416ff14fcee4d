"""The projector's views through the real broker, against SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest

from catalog_contract.events import Availability, ChangeType
from projector.store import ViewStore
from tests.factories import change
from tests.support import (
    Topics,
    eventually,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker

A_FIRST = change(
    "a",
    "c1",
    minute=0,
    price="10.00",
    stock=Availability.IN_STOCK,
    name="A",
    kind=ChangeType.CREATED,
)
A_CHEAPER = change("a", "c1", minute=5, price="8.00")  # partial: name and stock not sent
B_FIRST = change("b", "c1", minute=0, price="5.00", stock=Availability.OUT_OF_STOCK, name="B")
SEQUENCE = [
    A_FIRST,
    B_FIRST,
    A_CHEAPER,
    A_CHEAPER,  # a retry of the same postback: duplicate
    A_FIRST,  # an older retry arriving late: stale
    change("b", "c1", minute=6, stock=Availability.IN_STOCK),
    change("c", "c1", minute=1, price="3.00"),
    change("c", "c1", minute=7, kind=ChangeType.REMOVED),  # event + tombstone
    change("c", "c1", minute=1, price="3.00"),  # its creation retried after the removal: stale
    change("b", "c1", minute=8, price="7.00"),
    change("b", "c1", minute=2, kind=ChangeType.REMOVED),  # an old removal retried: stale (+ its tombstone)
    change("d", "c2", minute=0, price="1.50", stock=Availability.LIMITED_AVAILABILITY),
]  # fmt: skip


def _metric(text: str, verdict: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'projector_events_total{{verdict="{verdict}"}}'):
            return float(line.split()[-1])
    return 0.0


async def test_snapshots_partials_duplicates_retries_and_removals(
    kafka_bootstrap: str, topics: Topics, store: ViewStore, tmp_path: Any
) -> None:
    written = await produce_events(kafka_bootstrap, topics.product, SEQUENCE)
    # Counts every verdict and revision of this exact sequence: no restatements appended to it
    # (test_compaction covers those).
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db", restate=False)
    async with running_projector(settings, store) as projector:
        await eventually(lambda: sum(store.positions(topics.product).values()) == written)
        items = {
            catalog: (await projector.get(f"/v1/catalogs/{catalog}/items")).json()["items"]
            for catalog in ("c1", "c2")
        }
        catalogs = (await projector.get("/v1/catalogs")).json()["catalogs"]
        feed = (await projector.get("/v1/changes", params={"limit": 100})).json()["changes"]
        drops = (await projector.get("/v1/changes", params={"type": "price_drop"})).json()[
            "changes"
        ]
        in_stock = await projector.get(
            "/v1/catalogs/c1/items", params={"availability": "in_stock", "max_price": "7.5"}
        )
        metrics = (await projector.get("/metrics")).text

    summary = {
        c: [
            (i["item_id"], i["name"], i["current_price"], i["stock_availability"], i["revision"])
            for i in found
        ]
        for c, found in items.items()
    }
    assert summary == {
        "c1": [("a", "A", "8.00", "IN_STOCK", 2), ("b", "B", "7.00", "IN_STOCK", 3)],
        "c2": [("d", None, "1.50", "LIMITED_AVAILABILITY", 1)],
    }
    assert [
        (
            c["catalog_id"],
            c["item_count"],
            c["in_stock"],
            c["out_of_stock"],
            c["min_price"],
            c["max_price"],
        )
        for c in catalogs
    ] == [
        ("c1", 2, 2, 0, "7.00", "8.00"),
        ("c2", 1, 1, 0, "1.50", "1.50"),
    ]
    per_item: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for entry in feed:
        per_item.setdefault(entry["item_id"], []).append(
            (entry["kind"], entry["old"], entry["new"])
        )
    assert per_item == {
        "a": [("item_added", None, "10.00"), ("price_drop", "10.00", "8.00")],
        "b": [
            ("item_added", None, "5.00"),
            ("back_in_stock", "OUT_OF_STOCK", "IN_STOCK"),
            ("price_rise", "5.00", "7.00"),
        ],
        "c": [("item_added", None, "3.00"), ("item_removed", "3.00", None)],
        "d": [("item_added", None, "1.50")],
    }
    assert [seq["seq"] for seq in feed] == sorted(seq["seq"] for seq in feed)
    assert [(d["item_id"], d["old"], d["new"]) for d in drops] == [("a", "10.00", "8.00")]
    assert [i["item_id"] for i in in_stock.json()["items"]] == ["b"]
    # old snapshot, c's creation retried after its removal, old removal and its tombstone
    assert _metric(metrics, "stale") == 4
    assert _metric(metrics, "duplicate") == 2  # the retried postback, the tombstone after removal


async def test_values_written_with_v1_and_v2_are_both_projected(
    kafka_bootstrap: str, topics: Topics, store: ViewStore, tmp_path: Any
) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from aiokafka import AIOKafkaProducer

    from catalog_contract import codec, schemas

    old = change("old", "v", price="1.00")
    new = change(
        "new",
        "v",
        price="2.00",
        shipping_cost=Decimal("4.9900"),
        sale_ends_at=datetime(2026, 12, 24, tzinfo=UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.product, codec.encode(old, schemas.all_versions()[0]), key=b"v:old"
        )
        await producer.send_and_wait(topics.product, codec.encode(new), key=b"v:new")
    finally:
        await producer.stop()
    async with running_projector(
        projector_settings(kafka_bootstrap, topics, tmp_path / "u.db"), store
    ) as projector:
        await eventually(lambda: sum(store.positions(topics.product).values()) == 2)
        items = (await projector.get("/v1/catalogs/v/items")).json()["items"]
    assert [
        (i["item_id"], i["current_price"], i["shipping_cost"], i["sale_ends_at"]) for i in items
    ] == [
        ("new", "2.00", "4.99", "2026-12-24T00:00:00+00:00"),
        ("old", "1.00", None, None),
    ]
