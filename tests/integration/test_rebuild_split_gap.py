"""A split rebuild's worker (rebuild_split_worker.py) stops exactly at its target where the
broker's compaction removed the record just below it: nothing is left to apply below the target
then, and the next record is past it, so the worker must see that Kafka's position passed the
target (waiting for the record just below it would wait forever), and apply nothing at or past
it. Real compaction by the broker's log cleaner."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from catalog_contract import topics as contract_topics
from catalog_stream.topic_admin import ensure_all
from projector.rebuild_split_worker import Orders, load
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import eventually, produce_events

COMPACT_AT_ONCE = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.001",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "0",
}


async def _first_offset_from(bootstrap: str, topic: str, offset: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
        return int(batch[tp][0].offset)
    finally:
        await consumer.stop()


async def test_a_worker_stops_at_its_target_past_a_record_compaction_removed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"test.gap.{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(topic, 1, 1, COMPACT_AT_ONCE)])
    # Offsets 0, 1, 2: item a; item y; item y again, which supersedes offset 1. The target is 2
    # (as if the active generation had applied offset 1 and no further).
    await produce_events(kafka_bootstrap, topic, [
        change("a", "c", minute=1, price="1.00"),
        change("y", "c", minute=1, price="2.00"),
        change("y", "c", minute=2, price="3.00"),
    ])  # fmt: skip

    async def offset_1_gone() -> bool:
        # Each append rolls the active segment (segment.ms), so the cleaner can compact it.
        await produce_events(kafka_bootstrap, topic, [change("z", "c", minute=3, price="4.00")])
        return await _first_offset_from(kafka_bootstrap, topic, 1) == 2

    await eventually(offset_1_gone, timeout_s=120, every_s=1)
    path = tmp_path / "part.db"
    SqliteStore(path).create(False)
    settings = ProjectorSettings(bootstrap_servers=kafka_bootstrap, topic=topic)
    await asyncio.wait_for(load(Orders(settings, path, {0: 2}, os.getpid())), 60)
    part = SqliteStore(path)
    try:
        assert part.positions(topic) == {0: 1}  # one past the last record below the target
        items = part._query("SELECT item_id, current_price FROM items")
        assert [(i, str(p)) for i, p in items] == [("a", "10000")]  # y: nothing below 2
        assert part._query("SELECT COUNT(*) FROM changes") == [(0,)]  # below it: never fed
    finally:
        part.close()
