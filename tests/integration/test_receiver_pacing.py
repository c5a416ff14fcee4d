"""The producer's pace through the real broker: a lone postback is not held for the linger, a
crowd's every 200 is an acknowledged record in the order sent."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest

from catalog_contract import codec
from tests.support import AUTH, Topics, read_topic, receiver_settings, running_receiver

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
LONG_LINGER_MS = 4000


def _postback(item: str, price: str) -> dict[str, str]:
    return {"CatalogId": "7", "CatalogItemId": item, "CurrentPrice": price}


async def _each_round_answered_within_half_the_linger(
    bootstrap: str, topics: Topics, rounds: list[list[dict[str, str]]], **overrides: Any
) -> None:
    """A receiver lingering LONG_LINGER_MS (and `overrides`) sent each round's postbacks at once:
    every answer is 200, each round's within half the linger."""
    settings = receiver_settings(bootstrap, topics, linger_ms=LONG_LINGER_MS, **overrides)
    async with running_receiver(settings) as receiver:
        for postbacks in rounds:
            started = time.monotonic()
            answers = await asyncio.gather(
                *(receiver.post(PATH, json=body, headers=AUTH) for body in postbacks)
            )
            assert [a.status_code for a in answers] == [200] * len(postbacks), answers[0].text
            assert time.monotonic() - started < LONG_LINGER_MS / 1000 / 2


async def test_a_lone_postback_is_not_held_for_the_linger(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # Before: every batch lingered linger_ms, so each lone postback waited LONG_LINGER_MS.
    rounds = [[_postback("alone", price)] for price in ("1.00", "2.00", "3.00")]
    await _each_round_answered_within_half_the_linger(
        kafka_bootstrap, topics, rounds, linger_from=32, produce_timeout_s=30
    )
    records = await read_topic(kafka_bootstrap, topics.product)
    prices = [codec.decode(r.value).current_price for r in records]
    assert prices == [Decimal(1), Decimal(2), Decimal(3)]


async def test_a_few_concurrent_quickly_acknowledged_postbacks_are_not_held(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # Before: from `linger_from` awaiting on, every batch lingered, however briefly postbacks
    # waited for Kafka (the c=16 case): these would have waited LONG_LINGER_MS.
    rounds = [[_postback(f"c{n}", f"{round_}.{n}") for n in range(6)] for round_ in range(3)]
    await _each_round_answered_within_half_the_linger(
        kafka_bootstrap, topics, rounds, linger_from=2, recent_window_s=0
    )
    assert len(await read_topic(kafka_bootstrap, topics.product)) == 18


async def test_linger_from_one_without_a_wait_keeps_the_fixed_linger(
    kafka_bootstrap: str, topics: Topics
) -> None:
    settings = receiver_settings(
        kafka_bootstrap, topics, linger_ms=1500, linger_from=1, linger_from_wait=0
    )
    async with running_receiver(settings) as receiver:
        started = time.monotonic()
        answer = await receiver.post(PATH, json=_postback("held", "1.00"), headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started >= 1.4


async def test_in_a_crowd_each_200_is_its_own_acknowledged_record(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # linger_from_wait=0: the count alone, so this crowd's batches linger (as a loaded one's do)
    settings = receiver_settings(
        kafka_bootstrap, topics, linger_ms=300, linger_from=8, recent_window_s=0, linger_from_wait=0
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


async def test_bodies_at_the_size_limit_alone_and_in_a_crowd(
    kafka_bootstrap: str, topics: Topics
) -> None:
    # A lone batch now leaves uncompressed: the largest value allowed must still fit the topic.
    # ... and a crowd's lingering batches are compressed (linger_from_wait=0: the count alone).
    settings = receiver_settings(
        kafka_bootstrap, topics, linger_from=4, recent_window_s=0, linger_from_wait=0
    )
    text = "x" * (settings.max_body_bytes - 200)

    def big(n: int) -> dict[str, str]:
        return {**_postback(f"big{n}", "1.00"), "Description": text}

    async with running_receiver(settings) as receiver:
        alone = await receiver.post(PATH, json=big(0), headers=AUTH)
        crowd = await asyncio.gather(
            *(receiver.post(PATH, json=big(n), headers=AUTH) for n in range(1, 13))
        )
    assert [a.status_code for a in [alone, *crowd]] == [200] * 13, alone.text
    records = await read_topic(kafka_bootstrap, topics.product)
    assert sorted(len(codec.decode(r.value).description or "") for r in records) == [len(text)] * 13


async def test_concurrent_retries_of_one_postback_each_name_an_acknowledged_copy(
    kafka_bootstrap: str, topics: Topics
) -> None:
    settings = receiver_settings(
        kafka_bootstrap, topics, linger_ms=50, linger_from=3, linger_from_wait=0
    )
    same = {**_postback("retried", "9.00"), "DateLastUpdated": "2026-11-27T08:30:00Z"}
    async with running_receiver(settings) as receiver:
        answers = await asyncio.gather(
            *(receiver.post(PATH, json=same, headers=AUTH) for _ in range(10))
        )
        later = await receiver.post(PATH, json=same, headers=AUTH)
    assert [a.status_code for a in answers] == [200] * 10
    records = await read_topic(kafka_bootstrap, topics.product)
    by_position = {(r.partition, r.offset): r for r in records}
    event_ids = {codec.decode(r.value).event_id for r in records}
    assert len(event_ids) == 1  # every copy is the same event (its content id)
    for answer in [*answers, later]:
        body = answer.json()
        assert (body["partition"], body["offset"]) in by_position
        assert body["event_id"] == str(next(iter(event_ids)))
    assert later.json() in [a.json() for a in answers]  # the repeat window answers it
