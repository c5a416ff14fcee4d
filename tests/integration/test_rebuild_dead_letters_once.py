"""Through the real broker and a real PostgreSQL: two projector instances share one database; a
batch of the second instance with an unreadable record arrives while the first one's switch
holds the generation pointer. That batch is refused (the views moved), and the switch's builder
keeps every record past the old generation's frozen positions, this one too: it must be in the
dead-letter topic once. Before, the refused batch had written its dead letter before waiting
for the pointer in its store write: twice."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.keys import product_key
from projector import rebuild_switch
from tests.support import (
    ADMIN,
    SharePostgres,
    eventually,
    read_topic,
)

pytestmark = pytest.mark.broker
ITEMS = 8
BROKEN = b"\x00 not an Avro event, during the switch"


def _batches_waiting_for_the_pointer(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND query LIKE '%catalog_stream_generation%FOR SHARE'"
        ).fetchone()
    return int(row[0]) if row else 0


async def test_a_batch_refused_by_a_switch_has_kept_nothing(
    kafka_bootstrap: str, share_postgres: SharePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = await share_postgres(ITEMS, partitions=2)
    topics, url, records = shared.topics, shared.url, shared.preloaded
    # The switch stops (pointer held FOR UPDATE, builder running) until the test lets it go.
    holding, release = asyncio.Event(), asyncio.Event()
    reach = rebuild_switch.until_reached

    async def held_switch(*args: Any, **kwargs: Any) -> None:
        if any(g._held is not None for g in both):  # (it also waits before taking the pointer)
            holding.set()
            await release.wait()
        await reach(*args, **kwargs)

    monkeypatch.setattr(rebuild_switch, "until_reached", held_switch)
    both = [shared.generations(), shared.generations()]
    async with shared.instances(both) as [(first, first_client), (second, _)]:
        [partition] = second.projector.assigned  # one each
        started = await first_client.post("/v1/admin/rebuild", headers=ADMIN)
        assert started.status_code == 202
        await asyncio.wait_for(holding.wait(), 90)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                topics.product, BROKEN, key=product_key("c1", "broken"), partition=partition
            )
        finally:
            await producer.stop()
        # The second instance's batch waits for the pointer; the builder has kept the record.
        await eventually(lambda: _batches_waiting_for_the_pointer(url) == 1, timeout_s=60)
        building = first.building
        assert building is not None

        def built_past() -> bool:
            return building.positions(topics.product).get(partition, 0) > int(sent.offset)

        await eventually(built_past, timeout_s=60)
        release.set()
        await eventually(lambda: first.rebuild_status.state != "running", timeout_s=90)
        assert first.rebuild_status.state == "done", first.rebuild_status
        new = first.store.name
        await eventually(lambda: second.store.name == new, timeout_s=60)
        # Both go on in the new generation, past the record (nothing of it is kept again).
        await shared.wave(2, ITEMS)

        def past_both_waves() -> bool:  # one database: both instances' partitions
            return sum(second.store.positions(topics.product).values()) == 2 * records + 1

        await eventually(past_both_waves, timeout_s=60)
    dead = await read_topic(kafka_bootstrap, topics.projector_dead_letter)
    assert [d.value for d in dead].count(BROKEN) == 1, [(d.partition, d.offset) for d in dead]
