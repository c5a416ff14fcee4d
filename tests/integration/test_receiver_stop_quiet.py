"""Stopping the publisher with the real broker stopped (SIGSTOP) under writes to every partition,
some of them already answered 503 at their produce timeout: the stop fails what is left without
asyncio's "Future exception was never retrieved" (an exception set on a future nobody reads:
a batch's drain waiter, a timed-out postback's record), without aiokafka's KeyError callback
(a batch sent, re-queued, then failed), and says in one line how many records were given up.

Fails on the code before: asyncio logged "Future exception was never retrieved" for the failed
batches once collected, and nothing said how many records were left."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from catalog_contract.keys import product_key
from catalog_stream.broker import LocalBroker
from receiver.errors import PublishFailed
from tests.paused_broker import module_broker, paused
from tests.support import connected_publisher, make_topics, receiver_settings

pytestmark = pytest.mark.broker

broker = module_broker("kafka-stop-quiet")


async def test_a_stop_giving_up_on_writes_logs_one_count_and_no_lost_exceptions(
    broker: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    topics = await make_topics(broker.bootstrap_servers, partitions=6)
    settings = receiver_settings(
        broker.bootstrap_servers, topics, produce_timeout_s=3.0, shutdown_timeout_s=2.0
    )
    publisher = await connected_publisher(settings)
    writes: list[asyncio.Task[object]] = []
    try:
        with paused(broker):
            early = [
                asyncio.create_task(
                    publisher.publish(topics.product, product_key("3", f"e{n}"), b"e")
                )
                for n in range(30)
            ]
            writes += early
            await asyncio.wait(early, timeout=10)  # each answered 503 at its produce timeout
            late = [
                asyncio.create_task(
                    publisher.publish(topics.product, product_key("3", f"l{n}"), b"l")
                )
                for n in range(30)
            ]
            writes += late
            await asyncio.sleep(0.2)  # still waiting when the stop gives up on them
            caplog.clear()
            with caplog.at_level(logging.INFO):
                started = time.monotonic()
                await asyncio.wait_for(publisher.stop(), 30)
                stopping_s = time.monotonic() - started
                await asyncio.wait(writes, timeout=5)
                gc.collect()  # (a future's unread exception is logged when it is collected)
                await asyncio.sleep(0.1)
                records = list(caplog.records)
    finally:
        for write in writes:
            write.cancel()
    assert all(isinstance(write.exception(), PublishFailed) for write in writes)
    assert stopping_s < 2  # given up 1.5 s in (the budget less its reserve)
    texts = [record.getMessage() for record in records if record.levelno >= logging.WARNING]
    assert [t for t in texts if "never retrieved" in t or "Exception in callback" in t] == []
    counted = [
        (getattr(r, "unacknowledged", None), getattr(r, "waiting", None))
        for r in records
        if hasattr(r, "unacknowledged")
    ]
    assert counted == [(60, 30)]
