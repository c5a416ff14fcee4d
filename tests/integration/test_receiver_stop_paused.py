"""Stopping the publisher while the real broker is stopped (SIGSTOP: the connection stays open,
nothing answers): stop() returns within its bound and every write it held is failed (a 503),
none left hanging. Fails on the code before: stop() waited for aiokafka's flush, which an
idempotent producer never ends while the broker does not answer (still stopping after 30 s)."""

from __future__ import annotations

import asyncio
import time

import pytest

from catalog_contract.keys import product_key
from catalog_stream.broker import LocalBroker
from receiver.errors import PublishFailed
from tests.paused_broker import module_broker, paused
from tests.support import connected_publisher, make_topics, read_topic, receiver_settings

pytestmark = pytest.mark.broker

broker = module_broker("kafka-stop-paused")


async def test_stopping_with_the_broker_stopped_fails_the_writes_and_returns(
    broker: LocalBroker,
) -> None:
    bootstrap = broker.bootstrap_servers
    topics = await make_topics(bootstrap)
    publisher = await connected_publisher(
        receiver_settings(bootstrap, topics, produce_timeout_s=2.0)
    )
    with paused(broker):
        writes = [
            asyncio.create_task(
                publisher.publish(topics.product, product_key("5", f"s{n}"), b"%d" % n)
            )
            for n in range(20)
        ]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await asyncio.wait_for(publisher.stop(), 30)
        stopping_s = time.monotonic() - started
    await asyncio.wait(writes, timeout=5)  # (answered by the stop; each task's turn to end)
    assert all(write.done() for write in writes)
    assert all(isinstance(write.exception(), PublishFailed) for write in writes)
    assert stopping_s < 15


async def test_stopping_with_the_broker_up_flushes_every_lingering_write(
    kafka_bootstrap: str,
) -> None:
    # The bound above must not cut a flush short: writes lingering 2 s are all acknowledged.
    # (Passes on the code before too.)
    topics = await make_topics(kafka_bootstrap)
    settings = receiver_settings(kafka_bootstrap, topics, linger_ms=2000, linger_from=1)
    publisher = await connected_publisher(settings)
    writes = [
        asyncio.create_task(publisher.publish(topics.product, product_key("2", f"i{n}"), b"%d" % n))
        for n in range(50)
    ]
    await asyncio.sleep(0.05)
    await asyncio.wait_for(publisher.stop(), 10)
    await asyncio.wait(writes, timeout=5)
    acks = [write.result()[0] for write in writes]  # (a PublishFailed would raise here)
    records = {
        (r.partition, r.offset): r.value for r in await read_topic(kafka_bootstrap, topics.product)
    }
    assert [records[(a.partition, a.offset)] for a in acks] == [b"%d" % n for n in range(50)]
