"""A partition assigned while the store cannot say its positions (an outage at startup or at a
rebalance) stays unread (`_positioned`): nothing of it is known applied. aiokafka fetches it
meanwhile from the group's Kafka offsets, the mirror kept for lag tools. The consumer loop, idle,
noted that position as `passed` (62d1363), an offset below which every record is applied: the
lag said 0 and /readyz 'ready' on the word of the mirror, for as long as no record arrived for
the partition, with the store never read. The store here is a real PostgreSQL client pointed at
a port nothing listens on (connection refused, StoreUnavailable)."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from catalog_contract import topics as contract_topics
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all
from projector.consumer import ConsumerLoop
from projector.metrics import ProjectorMetrics
from projector.postgres_store import PostgresStore
from projector.settings import ProjectorSettings
from tests.factories import change
from tests.support import produce_events


async def _commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """The group's Kafka offset, as the mirror (_commit_for_tools) leaves it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def test_a_partition_whose_positions_the_store_did_not_say_is_not_caught_up(
    kafka_bootstrap: str,
) -> None:
    topic = f"test.unpositioned.{uuid.uuid4().hex[:8]}"
    group = f"test-unpositioned-{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(topic, 1, 1, {})])
    events = [change(f"i{n}", "c", minute=1, price="1.00") for n in range(3)]
    written = await produce_events(kafka_bootstrap, topic, events)
    await _commit(kafka_bootstrap, group, topic, written)
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2")
    settings = ProjectorSettings(bootstrap_servers=kafka_bootstrap, topic=topic, group_id=group)
    loop = ConsumerLoop(settings, store, ProjectorMetrics())
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        deadline = time.monotonic() + 30
        while loop.end_offsets != {0: written}:  # assigned, fetched from the group's offset
            assert not task.done()
            assert time.monotonic() < deadline, "the partition's end never became known"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # several idle polls (200 ms each)
        assert 0 not in loop._positioned  # the store never said where it stands
        assert loop.lag() == written
        assert not loop.ready(0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
