"""Identical postbacks in flight at once, through the real broker: one record, every answer the
same 200 (receiver.in_flight). Before, each copy was written: 60 postbacks, 60 records."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import AUTH, Topics, read_topic, receiver_settings, running_receiver

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
POINTS = {
    "CatalogId": "9",
    "CatalogItemId": "lamp-2",
    "CurrentPrice": "49.90",
    "DateLastUpdated": "2026-11-27T08:30:00Z",
}


async def test_sixty_identical_postbacks_at_once_are_one_record(
    kafka_bootstrap: str, topics: Topics
) -> None:
    async with running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver:
        answers = await asyncio.gather(
            *(receiver.post(PATH, json=POINTS, headers=AUTH) for _ in range(60))
        )
        metrics = await receiver.get("/metrics")
    assert [a.status_code for a in answers] == [200] * 60
    assert len({a.content for a in answers}) == 1
    assert len(await read_topic(kafka_bootstrap, topics.product)) == 1
    assert "receiver_duplicates_dropped_total 59.0" in metrics.text
