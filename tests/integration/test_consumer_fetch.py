"""A live consumer's fetch that raises leaves aiokafka's idle clock running (a real broker).

aiokafka 0.14 counts a `getmany` in flight and does not count it out when it raises: its idle
clock, what decides that a consumer stuck on a store outage leaves its group at
max.poll.interval, then read 0 for ever. Under `auto_offset_reset="none"` every new group's
first fetch raises (NoOffsetForPartitionError), and so does a position out of range; a cancel
too. With `consumer.getmany` called as it is each case below failed (idle 0.0 s);
`consumer_fetch.getmany` counts such a fetch out (test_an_outage_longer_than_the_max_poll_interval
is the whole-service case)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import NoOffsetForPartitionError, OffsetOutOfRangeError

from projector.consumer_fetch import getmany
from tests.factories import change
from tests.support import eventually, make_topics, produce_events

pytestmark = pytest.mark.broker

IDLE_S = 0.5


@asynccontextmanager
async def _consumer(bootstrap: str) -> AsyncIterator[tuple[AIOKafkaConsumer, TopicPartition]]:
    topics = await make_topics(bootstrap, partitions=1)
    await produce_events(bootstrap, topics.product, [change("p-1")])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"test.fetch.{uuid.uuid4().hex[:8]}",
        auto_offset_reset="none",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.subscribe([topics.product])
        await eventually(lambda: consumer.assignment(), timeout_s=30)
        yield consumer, TopicPartition(topics.product, 0)
    finally:
        await consumer.stop()


async def _raised(consumer: AIOKafkaConsumer) -> Exception:
    """What the consumer's fetches raise (once the group's offsets were looked up)."""
    for _ in range(50):
        try:
            await getmany(consumer, 100, 10)
        except Exception as exc:
            return exc
    raise AssertionError("no fetch raised")


async def _idle_after_a_while(consumer: AIOKafkaConsumer) -> float:
    await asyncio.sleep(IDLE_S)
    idle: float = consumer._subscription.fetcher_idle_time
    return idle


async def test_a_new_groups_fetch_without_a_position_leaves_the_idle_clock_running(
    kafka_bootstrap: str,
) -> None:
    async with _consumer(kafka_bootstrap) as (consumer, _):
        assert isinstance(await _raised(consumer), NoOffsetForPartitionError)
        assert await _idle_after_a_while(consumer) >= IDLE_S


async def test_a_fetch_out_of_range_leaves_the_idle_clock_running(kafka_bootstrap: str) -> None:
    async with _consumer(kafka_bootstrap) as (consumer, tp):
        consumer.seek(tp, 1_000)
        assert isinstance(await _raised(consumer), OffsetOutOfRangeError)
        assert await _idle_after_a_while(consumer) >= IDLE_S
        consumer.seek(tp, 0)  # and a fetch that succeeds after it counts in and out as before
        assert (await getmany(consumer, 5_000, 10))[tp][0].offset == 0
        assert await _idle_after_a_while(consumer) >= IDLE_S


async def test_a_cancelled_fetch_leaves_the_idle_clock_running(kafka_bootstrap: str) -> None:
    async with _consumer(kafka_bootstrap) as (consumer, tp):
        consumer.seek(tp, 1)  # the end: the fetch waits for a record that never comes
        fetching = asyncio.ensure_future(getmany(consumer, 30_000, 10))
        await asyncio.sleep(0.5)
        fetching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fetching
        assert await _idle_after_a_while(consumer) >= IDLE_S
