"""The repeat window and the single flight against a real broker paused (SIGSTOP) under a
product's newer change: a repeat of the product's earlier postback (without DateLastUpdated: the
same content id, a change back) must be written after that change, never answered from memory
while the change is in flight, or after its write failed (timed out) yet its record landed once
the broker came back. Before, both repeats were answered 200 at once, while the broker was
stopped, and the topic ended with the change the platform had sent before them."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from decimal import Decimal

import pytest

from catalog_contract import codec
from catalog_stream.broker import LocalBroker
from tests.conftest import start_local_broker
from tests.support import AUTH, make_topics, read_topic, receiver_settings, running_receiver

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
OLD = {"CatalogId": "9", "CatalogItemId": "lamp-2", "CurrentPrice": "49.90"}
NEW = {**OLD, "CurrentPrice": "39.90"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    started = start_local_broker(tmp_path_factory.mktemp("kafka-paused"))
    try:
        yield started
    finally:
        assert started.process is not None
        os.kill(started.process.pid, signal.SIGCONT)
        started.stop()


def _pause(broker: LocalBroker, stopped: bool) -> None:
    assert broker.process is not None
    os.kill(broker.process.pid, signal.SIGSTOP if stopped else signal.SIGCONT)


async def _prices(bootstrap: str, topic: str) -> list[Decimal | None]:
    return [codec.decode(r.value).current_price for r in await read_topic(bootstrap, topic)]


async def test_a_repeat_while_the_newer_change_waits_on_a_paused_broker_is_written_after_it(
    broker: LocalBroker,
) -> None:
    topics = await make_topics(broker.bootstrap_servers)
    settings = receiver_settings(broker.bootstrap_servers, topics, produce_timeout_s=20.0)
    async with running_receiver(settings) as receiver:
        first = await receiver.post(PATH, json=OLD, headers=AUTH)
        assert first.status_code == 200
        _pause(broker, True)
        try:
            newer = asyncio.create_task(receiver.post(PATH, json=NEW, headers=AUTH))
            await asyncio.sleep(0.5)
            repeat = asyncio.create_task(receiver.post(PATH, json=OLD, headers=AUTH))
            await asyncio.sleep(1.0)
            answered_while_stopped = repeat.done()
        finally:
            _pause(broker, False)
        answers = await asyncio.gather(newer, repeat)
    assert [a.status_code for a in answers] == [200, 200]
    # The old code: the repeat answered 200 from the window, broker stopped; the topic ended
    # with 39.90, which the platform had sent before the repeat.
    prices = await _prices(broker.bootstrap_servers, topics.product)
    assert prices == [Decimal("49.90"), Decimal("39.90"), Decimal("49.90")]
    assert not answered_while_stopped
    assert answers[1].json()["offset"] > answers[0].json()["offset"]


async def test_a_repeat_after_the_newer_change_timed_out_is_written_after_its_late_record(
    broker: LocalBroker,
) -> None:
    topics = await make_topics(broker.bootstrap_servers)
    settings = receiver_settings(broker.bootstrap_servers, topics, produce_timeout_s=3.0)
    async with running_receiver(settings) as receiver:
        first = await receiver.post(PATH, json=OLD, headers=AUTH)
        assert first.status_code == 200
        _pause(broker, True)
        try:
            newer = await receiver.post(PATH, json=NEW, headers=AUTH)
            assert newer.status_code == 503  # not acknowledged within 3 s ...
            repeat = asyncio.create_task(receiver.post(PATH, json=OLD, headers=AUTH))
            await asyncio.sleep(0.5)
            answered_while_stopped = repeat.done()
        finally:
            _pause(broker, False)
        answer = await repeat
    assert answer.status_code == 200
    # ... yet its record landed once the broker was back; the repeat is after it. The old code
    # answered the repeat 200 from the window (broker stopped): the topic ended with 39.90.
    prices = await _prices(broker.bootstrap_servers, topics.product)
    assert prices == [Decimal("49.90"), Decimal("39.90"), Decimal("49.90")]
    assert not answered_while_stopped
