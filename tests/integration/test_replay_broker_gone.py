"""A replay whose broker goes away mid-run fails in bounded time, saying so, instead of waiting
for records forever. Found by the stop-24 attack: `read_range` polled an unreachable broker
with no end (getmany answers nothing, the position never moves). Its own broker, stopped."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from catalog_stream.ranges import RangeError, read_range
from catalog_stream.replay_bounds import Bound
from tests.conftest import start_local_broker

STALL_S = 3.0
RECORDS = 4_000  # 4 MB in one partition: more than one fetch (1 MiB a partition)


async def _fill(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1 << 20)
    await producer.start()
    try:
        sent = [await producer.send(topic, b"x" * 1_000, key=b"k") for _ in range(RECORDS)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def test_a_replay_whose_broker_stops_mid_run_fails_in_bounded_time(tmp_path: Path) -> None:
    broker = start_local_broker(tmp_path / "kafka")
    read, stopped = 0, 0.0

    async def replay_stopping_the_broker() -> None:
        nonlocal read, stopped
        records = read_range(
            broker.bootstrap_servers, "gone", Bound("edge"), Bound("edge"), "test", False, STALL_S
        )
        async with asyncio.timeout(STALL_S + 120), aclosing(records):  # the old code: forever
            async for _ in records:
                read += 1
                if read == 1:
                    broker.stop()
                    stopped = time.monotonic()

    try:
        await _fill(broker.bootstrap_servers, "gone")
        with pytest.raises(RangeError) as caught:
            await replay_stopping_the_broker()
        waited = time.monotonic() - stopped
    finally:
        broker.stop()
    assert 0 < read < RECORDS
    assert "no record arrived" in str(caught.value)
    assert caught.value.retryable  # exit 75: running it again later may work
    assert STALL_S <= waited < STALL_S + 60
