"""A partition said behind (Kafka answered the fetch at the views' position out of range: the
topic recreated) stays paused across a rebalance that gives it back to the same instance (a
real broker; the rebalance: a partition added to the topic).

Attacked (break35): aiokafka's pause is a state of the assignment, and a rebalance starts a new
one; the listener sought the partition to the views' position and the loop fetched from it
before `_watch_behind`, at the end of the round, paused it again. The topic refilled past the
views' position meanwhile, that fetch was in range: the new topic's records past the old
position were applied into the views (its records below it skipped as applied), the very mix
of two topics the pause is there to prevent. Failed before: `new-20`.. answered 200."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.recreated_topic import quick_metadata_settings, recreated_topic
from tests.support import caught_up, eventually, make_topics, produce_events

pytestmark = pytest.mark.broker


async def test_a_partition_said_behind_stays_paused_once_assigned_again(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"old-{n}") for n in range(20)]
    )
    settings = quick_metadata_settings(kafka_bootstrap, topics, tmp_path)
    async with projector_in_process(settings) as (runtime, projector):
        await caught_up(projector, written)
        await recreated_topic(kafka_bootstrap, topics.product)
        await produce_events(kafka_bootstrap, topics.product, [change("new-0")])
        await eventually(lambda: 0 in runtime.projector.behind, timeout_s=30, every_s=0.1)
        # The new topic past the views' position (20): offsets 20 to 29 would be fetched.
        await produce_events(
            kafka_bootstrap, topics.product, [change(f"new-{n}") for n in range(1, 30)]
        )
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_partitions({topics.product: NewPartitions(total_count=2)})
        finally:
            await admin.close()
        await eventually(lambda: runtime.projector.assigned == {0, 1}, timeout_s=30)
        # Records on the added partition applied (some of ten keys land there): the loop went
        # round after the rebalance.
        await produce_events(
            kafka_bootstrap, topics.product, [change(f"added-{n}") for n in range(10)]
        )
        await eventually(lambda: runtime.projector.applied.get(1, 0) > 0, timeout_s=30)
        assert runtime.projector.applied.get(0) == 20
        assert (await projector.get("/v1/catalogs/42/items/new-25")).status_code == 404
        assert (await projector.get("/readyz")).status_code == 503
