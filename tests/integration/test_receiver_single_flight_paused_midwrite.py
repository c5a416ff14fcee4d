"""The real broker stopped (SIGSTOP) 0 to 200 ms into 100 postbacks being written: a write
the broker acknowledged just before the pause is answered 200 during the stop (its answer was on
its way), every other one once the broker goes on. Each 200, whenever it came, names its own
record on the topic at the partition and offset it says: none is a 200 Kafka did not give.

An attack on "a 200 while the broker was SIGSTOPped" (test_receiver_single_flight_broker_paused,
once, under heavy load): passes on the code before too (no wrong 200 found by it)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from catalog_contract import codec
from catalog_stream.broker import LocalBroker
from tests.paused_broker import module_broker, pause
from tests.support import AUTH, read_topic, receiver_on_new_topics

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
POSTBACKS = 100
DELAYS_S = (0.0, 0.05, 0.1, 0.15, 0.2)  # into the writes: none acknowledged, then some

broker = module_broker("kafka-paused-midwrite")


async def _paused_into_writes(
    broker: LocalBroker, receiver: httpx.AsyncClient, delay_s: float
) -> list[tuple[str, httpx.Response, bool, bool]]:
    """(item id, answer, answered before the stop, answered during it) of each postback."""
    items = [f"d{int(delay_s * 1000)}-{n}" for n in range(POSTBACKS)]
    posts = [
        asyncio.create_task(
            receiver.post(PATH, json={"CatalogId": "5", "CatalogItemId": item}, headers=AUTH)
        )
        for item in items
    ]
    await asyncio.sleep(delay_s)
    before = [post.done() for post in posts]
    pause(broker, True)  # (returns once every thread of the broker is seen stopped)
    try:
        await asyncio.sleep(1.0)
        during = [post.done() and not early for post, early in zip(posts, before, strict=True)]
    finally:
        pause(broker, False)
    answers = await asyncio.gather(*posts)
    return list(zip(items, answers, before, during, strict=True))


async def test_every_200_around_a_pause_names_its_own_record_on_the_topic(
    broker: LocalBroker,
) -> None:
    answered = []
    bootstrap = broker.bootstrap_servers
    async with receiver_on_new_topics(bootstrap, produce_timeout_s=20.0) as (topics, receiver):
        for delay_s in DELAYS_S:
            answered += await _paused_into_writes(broker, receiver, delay_s)
    records = await read_topic(broker.bootstrap_servers, topics.product)
    on_topic = {(r.partition, r.offset): codec.decode(r.value).catalog_item_id for r in records}
    # The produce timeout (20 s) outlasts the stop: every postback is written and answered 200.
    assert [answer.status_code for _, answer, *_ in answered] == [200] * len(DELAYS_S) * POSTBACKS
    named = {item: (a.json()["partition"], a.json()["offset"]) for item, a, *_ in answered}
    assert {item: on_topic.get(at) for item, at in named.items()} == {i: i for i in named}
    assert len(records) == len(DELAYS_S) * POSTBACKS
    for round_, delay_s in enumerate(DELAYS_S):
        these = answered[round_ * POSTBACKS : (round_ + 1) * POSTBACKS]
        before, during = (sum(1 for entry in these if entry[k]) for k in (2, 3))
        print(f"paused {delay_s * 1000:.0f} ms in: of {POSTBACKS}, {before} answered before")
        print(f"  the stop, {during} during it (acknowledged before it took effect)")
