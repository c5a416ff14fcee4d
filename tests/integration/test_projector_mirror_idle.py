"""The applied offsets are mirrored to the group's Kafka offsets (for lag tools: `topics
describe`, kafka-consumer-groups) at most every COMMIT_EVERY_S, and also once the consumer is
idle. Before, the mirror ran only when a batch finished: a batch finishing within that time of
the previous mirror, with nothing after it, was never mirrored while the topic stayed quiet, so
the tools showed a lag the status page and /readyz did not (found by the flakes audit: the
group's offset 1 eight seconds after both records were applied, 2 only after stop)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from catalog_contract import topics as contract_topics
from catalog_stream.topic_admin import ensure_all
from projector import consumer_progress
from projector.consumer import ConsumerLoop
from projector.metrics import ProjectorMetrics
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import produce_events

pytestmark = pytest.mark.broker


async def _group_offset(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(tp)
        return offset
    finally:
        await consumer.stop()


async def _until(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_the_last_batch_is_mirrored_once_the_consumer_is_idle(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 s between mirrors: the second batch below surely comes within it of the first's
    monkeypatch.setattr(consumer_progress, "COMMIT_EVERY_S", 3.0)
    topic = f"test.mirror.{uuid.uuid4().hex[:8]}"
    group = f"test-mirror-{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(topic, 1, 1, {})])
    store = SqliteStore(tmp_path / "views.db")
    store.create()
    settings = ProjectorSettings(bootstrap_servers=kafka_bootstrap, topic=topic, group_id=group)
    loop = ConsumerLoop(settings, store, ProjectorMetrics())
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    tp = TopicPartition(topic, 0)
    try:
        await produce_events(kafka_bootstrap, topic, [change("a", "c", price="1.00")])
        await _until(lambda: loop.applied.get(0) == 1, 30)
        await produce_events(kafka_bootstrap, topic, [change("b", "c", price="1.00")])
        await _until(lambda: loop.applied.get(0) == 2, 30)
        deadline = time.monotonic() + 10  # 3 s, and a round trip on a loaded machine
        while (offset := await _group_offset(kafka_bootstrap, group, tp)) != 2:
            assert not task.done()
            assert time.monotonic() < deadline, f"the group's offset stayed {offset}, applied 2"
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        store.close()
