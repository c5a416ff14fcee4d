"""The receiver's /readyz when its topics are created after it started and after a postback
came for them (a receiver deployed before `catalog-stream ensure` ran, with traffic).

Fails on the current main and on the code before it: the postback made the producer track the
product topic alone (aiokafka then asks the broker for that topic's metadata only), so the
dead-letter topic was never in the metadata again and /readyz said 503 for ever while every
postback was answered 200."""

from __future__ import annotations

import uuid

import pytest

from catalog_contract import topics as contract_topics
from catalog_stream.broker import LocalBroker
from catalog_stream.topic_admin import ensure_all
from tests.paused_broker import module_broker
from tests.support import (
    AUTH,
    Topics,
    _is_ready,
    eventually,
    receiver_settings,
    running_receiver,
)

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"

broker = module_broker("kafka-ready-topics")


async def test_ready_once_the_topics_exist_after_a_postback_came_before_them(
    broker: LocalBroker,
) -> None:
    suffix = uuid.uuid4().hex[:10]
    topics = Topics(
        product=f"test.products.{suffix}",
        dead_letter=f"test.dead-letter.{suffix}",
        projector_dead_letter=f"test.projector-dead-letter.{suffix}",
    )
    settings = receiver_settings(broker.bootstrap_servers, topics, produce_timeout_s=3.0)
    async with running_receiver(settings, wait_ready=False) as receiver:

        async def reached_the_producer() -> bool:
            body = {"CatalogId": "5", "CatalogItemId": "a"}
            early = await receiver.post(PATH, json=body, headers=AUTH)
            assert early.status_code == 503  # (no topic yet)
            return "not connected" not in early.text

        await eventually(reached_the_producer)  # (the producer looked the product topic up)
        assert (await receiver.get("/readyz")).status_code == 503
        await ensure_all(
            broker.bootstrap_servers,
            [
                contract_topics.product_topic(topics.product, partitions=3),
                contract_topics.dead_letter_topic(topics.dead_letter),
            ],
        )

        async def accepted() -> bool:
            body = {"CatalogId": "5", "CatalogItemId": "b"}
            return (await receiver.post(PATH, json=body, headers=AUTH)).status_code == 200

        await eventually(accepted)
        # The code before: 503 each time, for as long as no dead letter was written.
        await eventually(lambda: _is_ready(receiver), timeout_s=10, every_s=0.5)
