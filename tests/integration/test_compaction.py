"""Restatements through the real broker: after the live projector ran, the last record of every
key says that item's truth, so a replay of what compaction keeps builds the same views.

Compaction keeps at least the last record of each key (and drops tombstones after
`delete.retention.ms`); the test copies exactly that into a new topic instead of waiting for
the broker's log cleaner, whose timing no test can rely on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract import headers
from catalog_contract.events import Availability, ChangeType, ProductChange
from tests.factories import change
from tests.support import (
    Topics,
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    read_topic,
    records_applied,
    run_cli,
    running_projector,
)

pytestmark = pytest.mark.broker

MUG: dict[str, Any] = {"name": "Mug", "stock": Availability.IN_STOCK, "category": "Kitchen"}
SEQUENCE = [
    change("a", "c1", minute=0, price="10.00", **MUG),
    change("a", "c1", minute=5, price="8.00"),  # partial: the views keep name, stock, category
    change("b", "c1", minute=6, price="4.00", **MUG),
    change("b", "c1", minute=1, price="5.00", **MUG),  # an older retry written last: stale
    change("c", "c1", minute=0, price="3.00", **MUG),
    change("c", "c1", minute=7, kind=ChangeType.REMOVED),  # the event, then its tombstone
    change("c", "c1", minute=0, price="3.00", **MUG),  # its creation retried after: stale
    change("d", "c2", minute=9, price="2.00", **MUG),
    change("d", "c2", minute=2, kind=ChangeType.REMOVED),  # an old removal retried: stale
    change("e", "c2", minute=0, price="1.00", **MUG),  # says everything itself
]


async def _settle(client: httpx.AsyncClient, bootstrap: str, topic: str) -> None:
    """Until the views hold every record of the topic, restatements included (they are written
    before their batch commits, so once the views reach the end, the end stays put)."""

    async def caught_up() -> bool:
        done = records_applied(await client.get("/v1/catalogs"))
        return done == len(await read_topic(bootstrap, topic))

    await eventually(caught_up)


async def _views(client: httpx.AsyncClient) -> dict[str, Any]:
    def item(found: dict[str, Any]) -> dict[str, Any]:
        # Where an item's state was last written and how many events made it differ by nature.
        return {
            k: v for k, v in found.items() if k not in ("last_event_id", "position", "revision")
        }

    items = {
        catalog: [
            item(i) for i in (await client.get(f"/v1/catalogs/{catalog}/items")).json()["items"]
        ]
        for catalog in ("c1", "c2")
    }
    return {"items": items, "catalogs": (await client.get("/v1/catalogs")).json()["catalogs"]}


async def _copy(bootstrap: str, records: list[Any], topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            await producer.send(topic, r.value, key=r.key, headers=list(r.headers))
        await producer.flush()
    finally:
        await producer.stop()


def _compacted(records: list[Any]) -> list[Any]:
    """What compaction keeps once tombstones expired: each key's last record, if not a tombstone."""
    last = {r.key: r for r in sorted(records, key=lambda r: (r.partition, r.offset))}
    return [r for r in last.values() if r.value is not None]


def _restatement_counts(metrics: str) -> list[str]:
    return [
        line
        for line in metrics.splitlines()
        if line.startswith(("projector_restatements_total", "projector_restatements_failed_total"))
    ]


async def _replay(
    bootstrap: str, records: list[Any], tmp_path: Path, name: str
) -> tuple[dict[str, Any], list[str]]:
    """A fresh projector on a new topic holding `records`: its views and restatement counts."""
    replayed = await make_topics(bootstrap)
    await _copy(bootstrap, records, replayed.product)
    settings = projector_settings(bootstrap, replayed, tmp_path / f"{name}.db")
    async with running_projector(settings) as client:
        await _settle(client, bootstrap, replayed.product)
        views = await _views(client)
        metrics = (await client.get("/metrics")).text
    return views, _restatement_counts(metrics)


async def _live(
    bootstrap: str, topics: Topics, tmp_path: Path, events: list[ProductChange]
) -> tuple[dict[str, Any], list[str], list[Any], list[Any]]:
    """`events` written and applied by a live projector: its views and restatement counts, then
    every record on the topic and the restatements among them."""
    await produce_events(bootstrap, topics.product, events)
    settings = projector_settings(bootstrap, topics, tmp_path / "live.db")
    async with running_projector(settings) as client:
        await _settle(client, bootstrap, topics.product)
        views = await _views(client)
        metrics = (await client.get("/metrics")).text
    records = await read_topic(bootstrap, topics.product)
    restated = [r for r in records if any(name == headers.RESTATES for name, _ in r.headers)]
    return views, _restatement_counts(metrics), records, restated


async def test_a_replay_after_compaction_builds_the_same_views(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    live, counts, records, restated = await _live(kafka_bootstrap, topics, tmp_path, SEQUENCE)
    assert sorted(counts) == [
        "projector_restatements_failed_total 0.0",
        'projector_restatements_total{kind="snapshot"} 3.0',  # a, b and d
        'projector_restatements_total{kind="tombstone"} 1.0',  # c
    ]
    assert [i["item_id"] for i in live["items"]["c1"]] == ["a", "b"]
    assert (live["items"]["c1"][0]["name"], live["items"]["c1"][0]["current_price"]) == (
        "Mug",
        "8.00",
    )

    assert len(restated) == 4
    [tombstone] = [dict(r.headers) for r in restated if r.value is None]
    removed_at = SEQUENCE[5].source_updated_at
    assert removed_at is not None
    assert tombstone[headers.SOURCE_UPDATED_AT] == removed_at.isoformat().encode()
    # The data team's replay tells restatements from the platform's own events.
    code, rows, summary = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product
    )
    assert code == 0, summary
    said = [json.loads(line)["restates"] for line in rows.splitlines()]
    assert sorted(s for s in said if s) == sorted(
        dict(r.headers)[headers.RESTATES].decode() for r in restated
    )
    assert said.count(None) == len(records) - 4

    replayed, restating = await _replay(kafka_bootstrap, _compacted(records), tmp_path, "replay")
    assert replayed == live
    assert restating == ["projector_restatements_failed_total 0.0"]  # the truth needs none

    # Without the restatements, the same compaction would have lost the truth.
    originals = [r for r in records if r not in restated]
    control, _ = await _replay(kafka_bootstrap, _compacted(originals), tmp_path, "control")
    assert control != live
