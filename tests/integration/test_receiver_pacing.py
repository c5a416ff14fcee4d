"""The producer's pace through the real broker: a lone postback is not held for the linger, a
crowd's every 200 is an acknowledged record in the order sent."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from catalog_contract import codec
from tests.support import AUTH, Topics, read_topic, receiver_settings, running_receiver

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
LONG_LINGER_MS = 4000


def _postback(item: str, price: str) -> dict[str, str]:
    return {"CatalogId": "7", "CatalogItemId": item, "CurrentPrice": price}


async def test_a_lone_postback_is_not_held_for_the_linger(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # Before: every batch lingered linger_ms, so each lone postback waited LONG_LINGER_MS.
    settings = receiver_settings(
        kafka_bootstrap, topics, linger_ms=LONG_LINGER_MS, produce_timeout_s=30
    )
    async with running_receiver(settings) as receiver:
        for price in ("1.00", "2.00", "3.00"):
            started = time.monotonic()
            answer = await receiver.post(PATH, json=_postback("alone", price), headers=AUTH)
            assert answer.status_code == 200, answer.text
            assert time.monotonic() - started < LONG_LINGER_MS / 1000 / 2
    records = await read_topic(kafka_bootstrap, topics.product)
    prices = [codec.decode(r.value).current_price for r in records]
    assert prices == [Decimal(1), Decimal(2), Decimal(3)]


async def test_linger_from_one_keeps_the_fixed_linger(kafka_bootstrap: str, topics: Topics) -> None:
    settings = receiver_settings(kafka_bootstrap, topics, linger_ms=1500, linger_from=1)
    async with running_receiver(settings) as receiver:
        started = time.monotonic()
        answer = await receiver.post(PATH, json=_postback("held", "1.00"), headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started >= 1.4


async def test_in_a_crowd_each_200_is_its_own_acknowledged_record(
    kafka_bootstrap: str, topics: Topics
) -> None:
    settings = receiver_settings(
        kafka_bootstrap, topics, linger_ms=300, linger_from=8, recent_window_s=0
    )
    crowd = 40
    async with running_receiver(settings) as receiver:
        answers = await asyncio.gather(
            *(
                receiver.post(PATH, json=_postback(f"i{n % 5}", f"{n}.00"), headers=AUTH)
                for n in range(crowd)
            )
        )
    assert [a.status_code for a in answers] == [200] * crowd
    records = await read_topic(kafka_bootstrap, topics.product)
    by_position = {(r.partition, r.offset): r for r in records}
    assert len(records) == crowd
    for n, answer in enumerate(answers):
        body = answer.json()
        record = by_position[(body["partition"], body["offset"])]
        assert record.key == f"7:i{n % 5}".encode()
        assert codec.decode(record.value).current_price == Decimal(n)
