"""Partitions added to the product topic while the receiver and the projector run. Both learnt of
them only at aiokafka's metadata refresh, every `metadata_max_age_ms`, 5 minutes by default: that
long, the receiver wrote every postback to the old partitions, and a record written to a new one
stayed out of the views (a read without `min_position` does not ask Kafka again). Now the age is
a setting of each (30 s by default); these tests set 1 s and expect both within a few seconds.
Both fail on the old code (the setting ignored: 5 minutes)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from catalog_contract.writing import product_records
from tests.factories import change
from tests.support import (
    AUTH,
    caught_up,
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    running_projector,
    running_services,
)

pytestmark = pytest.mark.broker

AGE_MS = 1000
BOUND_S = 20  # well under the 5 minutes of before; generous for a loaded machine


async def _add_partitions(bootstrap: str, topic: str, total: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        await admin.close()


async def test_the_projector_reads_a_partition_added_while_it_runs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(kafka_bootstrap, topics.product, [change("before", price="1")])
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "v.db", metadata_max_age_ms=AGE_MS
    )
    async with running_projector(settings) as projector:
        await caught_up(projector, written)
        await _add_partitions(kafka_bootstrap, topics.product, 2)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()  # (started after the partitions were added: it knows them)
        try:
            records = product_records(change("added", price="2"))
            await producer.send_and_wait(
                topics.product, records.values[0], key=records.key, headers=records.headers,
                partition=1,
            )  # fmt: skip
        finally:
            await producer.stop()
        started = time.monotonic()

        async def in_the_views() -> bool:  # no min_position: nothing asks Kafka for it
            answer = await projector.get("/v1/catalogs/42/items/added")
            return answer.status_code == 200

        await eventually(in_the_views, timeout_s=BOUND_S, every_s=0.2)
        assert time.monotonic() - started < BOUND_S


async def test_postbacks_go_to_partitions_added_while_the_receiver_runs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    ages = {"metadata_max_age_ms": AGE_MS}
    async with running_services(
        kafka_bootstrap, topics, tmp_path / "v.db", receiver=ages, projector=ages
    ) as (receiver, projector):
        first = await receiver.post(
            "/v1/postbacks/product-changes",
            json={"CatalogId": "42", "CatalogItemId": "sku-0", "CurrentPrice": "1"},
            headers=AUTH,
        )
        assert first.json()["partition"] == 0, first.text
        await _add_partitions(kafka_bootstrap, topics.product, 4)
        started, items = time.monotonic(), itertools.count(1)

        async def on_a_new_partition() -> str | None:
            item = f"sku-{next(items)}"
            answer = await receiver.post(
                "/v1/postbacks/product-changes",
                json={"CatalogId": "42", "CatalogItemId": item, "CurrentPrice": "2"},
                headers=AUTH,
            )
            assert answer.status_code == 200, answer.text
            # (3 keys in 4 hash to a new partition once the producer knows of them)
            return item if answer.json()["partition"] > 0 else None

        item = await eventually(on_a_new_partition, timeout_s=BOUND_S, every_s=0.2)

        async def in_the_views() -> bool:  # no min_position: nothing asks Kafka for it
            answer = await projector.get(f"/v1/catalogs/42/items/{item}")
            return answer.status_code == 200

        await eventually(in_the_views, timeout_s=BOUND_S, every_s=0.2)
        assert time.monotonic() - started < 2 * BOUND_S
