"""The live consumer resets no position itself (auto_offset_reset "none"): a fetch position the
topic's log no longer holds is Kafka's answer, handled by the projector (TopicBehind._fetch).
Past the end, the topic is behind the views (test_attack33_recreated_in_window); below the start
(records removed by delete_records or retention before the views applied them), the consumer
goes on from the start, as "earliest" did, and says what was lost (a real broker)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from catalog_contract import topics as contract_topics
from catalog_stream.topic_admin import ensure_all
from tests.factories import change
from tests.support import (
    Topics,
    caught_up,
    eventually,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker


async def test_records_removed_below_the_views_position_are_said_and_the_rest_applied(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # One partition under a delete policy (a compacted topic refuses delete_records), so that
    # records can be removed as retention would.
    name = f"test.out-of-range.{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(name, 1, 1, {})])
    topics = Topics(product=name, dead_letter=f"{name}.dlt")
    first = await produce_events(
        kafka_bootstrap, topics.product, [change(f"a-{n}") for n in range(3)]
    )
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with running_projector(settings) as projector:
        await caught_up(projector, first)
    # While the projector is down: five more records (offsets 3 to 7), the first three of which
    # are removed before it applied them.
    await produce_events(kafka_bootstrap, topics.product, [change(f"b-{n}") for n in range(5)])
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records(
            {TopicPartition(topics.product, 0): RecordsToDelete(before_offset=6)}
        )
    finally:
        await admin.close()

    with caplog.at_level(logging.WARNING, logger="projector.topic_behind"):
        async with running_projector(settings) as projector:

            async def the_rest_applied() -> bool:
                answers = [await projector.get(f"/v1/catalogs/42/items/b-{n}") for n in (3, 4)]
                return all(answer.status_code == 200 for answer in answers)

            await eventually(the_rest_applied, timeout_s=30)

            async def ready() -> bool:
                return (await projector.get("/readyz")).status_code == 200

            await eventually(ready, timeout_s=30)
            assert (await projector.get("/v1/catalogs/42/items/b-0")).status_code == 404
    said = [r for r in caplog.records if "were removed from the topic" in r.getMessage()]
    assert [(r.__dict__["partition"], r.__dict__["from"], r.__dict__["to"]) for r in said] == [
        (0, 3, 6)
    ]
