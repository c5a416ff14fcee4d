"""catalog_contract.consumer_stop against a real broker that goes away under a reading consumer
(its own broker, stopped): the stop neither raises nor leaves any of the consumer's tasks
running, and the task that stops is not taken for cancelled.

Fails on `consumer.stop()` alone (aiokafka 0.14): a fetch sleeping out its retry against the gone
broker re-raised its CancelledError out of `stop`, before the client was closed; the client's
metadata task then ran for the life of the process (seen in make test as a projector's
`AIOKafkaClient._md_synchronizer` left by test_attack32_recount_flood)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from catalog_contract.consumer_stop import stop_consumer
from tests.aiokafka_tasks import tasks_talking_to
from tests.conftest import start_local_broker
from tests.factories import change
from tests.support import make_topics, produce_events

pytestmark = pytest.mark.broker


async def _read_until_gone(consumer: AIOKafkaConsumer, stop_broker: asyncio.Task[None]) -> None:
    """Fetch as a live consumer does, until the broker is gone and a fetch has failed."""
    while not stop_broker.done():
        await consumer.getmany(timeout_ms=100)
    for _ in range(10):
        await consumer.getmany(timeout_ms=100)


async def test_a_consumer_stopped_with_its_broker_gone_leaves_no_task(tmp_path: Path) -> None:
    broker = start_local_broker(tmp_path / "kafka")
    try:
        port = int(broker.bootstrap_servers.rsplit(":", 1)[1])
        topics = await make_topics(broker.bootstrap_servers, partitions=1)
        await produce_events(broker.bootstrap_servers, topics.product, [change("a", price="1")])
        # A long retry back-off: a fetch that failed against the gone broker is surely asleep
        # in it when the stop comes.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            retry_backoff_ms=5000,
        )
        await consumer.start()
        consumer.assign([TopicPartition(topics.product, 0)])
        assert await consumer.getmany(timeout_ms=5000)  # (reading)
        assert tasks_talking_to(port)  # (its tasks are seen: they must be gone after the stop)
        stopping = asyncio.create_task(asyncio.to_thread(broker.stop))
        await _read_until_gone(consumer, stopping)

        stopper = asyncio.create_task(stop_consumer(consumer))
        await asyncio.wait_for(asyncio.shield(stopper), 30)
        await asyncio.sleep(0.2)  # (a connection's closing takes a turn of the loop)

        assert not stopper.cancelled()
        assert stopper.exception() is None
        assert tasks_talking_to(port) == []
    finally:
        await asyncio.to_thread(broker.stop)
