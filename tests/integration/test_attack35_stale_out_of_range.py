"""A fetch answered out of range at the group's offset (a mirror past the end of a topic since
recreated, or left by another generation) while the assignment listener still reads the store's
positions, whose bounds are known only once the listener has sought to the store's position
(a slow store, a slow ListOffsets answer): that answer is not about the views (a real broker).

Attacked (break35): TopicBehind._out_of_range judged the error's offset (the group's, 50)
against the views' position read meanwhile (5, in the log): "behind", the partition paused and
/readyz 503 for good, though the views hold every record the topic has and nothing was lost (a
false alarm whose remedy, a rebuild, comes back to the same group offsets). Failed before: the
partition said behind (ended below offset 50, filled to 5 since)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.support import caught_up, eventually, make_topics, produce_events, projector_settings

pytestmark = pytest.mark.broker


async def test_an_out_of_range_answer_at_the_group_offset_is_not_the_views(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"a-{n}") for n in range(5)]
    )
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with projector_in_process(settings) as (_, projector):
        await caught_up(projector, written)
    # The group's offset past the topic's end (the views hold 5 records, the topic has 5).
    group = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=settings.group_id, enable_auto_commit=False
    )
    await group.start()
    try:
        tp = TopicPartition(topics.product, 0)
        group.assign([tp])
        await group.commit({tp: 50})
    finally:
        await group.stop()

    # The consumer's store reads take 0.5 s, the log's bounds 1.5 s: the fetch at the group's
    # offset is answered (out of range) while the listener reads, the bounds once it sought.
    positions, beginning_offsets = SqliteStore.positions, AIOKafkaConsumer.beginning_offsets

    def slow_positions(self: SqliteStore, topic: str) -> dict[int, int]:
        if threading.current_thread().name.startswith("projector-consumer-store"):
            time.sleep(0.5)
        return positions(self, topic)

    async def slow_beginning_offsets(self: AIOKafkaConsumer, partitions: Any) -> Any:
        await asyncio.sleep(1.5)
        return await beginning_offsets(self, partitions)

    monkeypatch.setattr(SqliteStore, "positions", slow_positions)
    monkeypatch.setattr(AIOKafkaConsumer, "beginning_offsets", slow_beginning_offsets)
    async with projector_in_process(settings) as (runtime, projector):
        more = await produce_events(kafka_bootstrap, topics.product, [change("b-0")])

        async def applied() -> bool:
            return (await projector.get("/v1/catalogs/42/items/b-0")).status_code == 200

        try:
            await eventually(applied, timeout_s=30)
        except AssertionError:
            raise AssertionError(f"b-0 not applied; behind: {runtime.projector.behind}") from None
        assert runtime.projector.behind == {}
        assert (await projector.get("/readyz")).status_code == 200
        assert written + more == 6
