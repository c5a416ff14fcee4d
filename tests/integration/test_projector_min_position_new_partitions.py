"""`min_position` on a partition added to the topic while the projector runs. The partition count
that refuses a position on a partition the topic lacks (422) came from the live consumer's
metadata, which aiokafka refreshes every metadata_max_age_ms (5 minutes): for up to 5 minutes
after partitions were added, a read asking for a position the receiver had just written there
was refused, "the topic has no partition 1 (it has 1: 0 to 0)". A miss now asks Kafka again
(once at a time, at most every few seconds) before refusing. Fails on the code before (422)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from catalog_contract.writing import product_records
from tests.factories import change
from tests.support import (
    caught_up,
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker


async def test_a_position_on_a_partition_just_added_is_waited_for_not_refused(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(kafka_bootstrap, topics.product, [change("before", price="1")])
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with running_projector(settings) as projector:
        await caught_up(projector, written)
        refused = await projector.get("/v1/catalogs/42", params={"min_position": "1:0"})
        assert refused.status_code == 422, refused.text  # the topic has one partition yet
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_partitions({topics.product: NewPartitions(total_count=2)})
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            records = product_records(change("added", price="2"))
            # (a producer started after the partitions were added knows them)
            await producer.send_and_wait(
                topics.product, records.values[0], key=records.key, headers=records.headers,
                partition=1,
            )  # fmt: skip
        finally:
            await producer.stop()
        started, statuses = time.monotonic(), []

        async def read() -> bool:
            answer = await projector.get(
                "/v1/catalogs/42/items/added", params={"min_position": "1:0"}
            )
            statuses.append(answer.status_code)
            return answer.status_code == 200

        await eventually(read, timeout_s=60, every_s=0.5)
        assert 422 not in statuses, statuses  # 504 (retry shortly) while it is assigned: fine
        assert time.monotonic() - started < 60
