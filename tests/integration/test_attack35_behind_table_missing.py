"""A generation of the views without the `behind` table (made by a version before it, then
followed after another instance's switch: only a start creates missing tables) is consumed all
the same (a real broker).

Attacked (break35, its own fix): the assignment listener read the partitions found behind with
the positions; the read failing on the missing table, no partition was ever positioned and the
consumer retried the store for good. Failed before (cfdfbfc): new-0 never applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.recreated_topic import quick_metadata_settings
from tests.support import caught_up, eventually, make_topics, produce_events

pytestmark = pytest.mark.broker


async def test_a_generation_without_the_behind_table_is_consumed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(kafka_bootstrap, topics.product, [change("old-0")])
    settings = quick_metadata_settings(kafka_bootstrap, topics, tmp_path)
    async with projector_in_process(settings) as (runtime, projector):
        await caught_up(projector, written)
        with sqlite3.connect(tmp_path / "v.db") as db:
            db.execute("DROP TABLE behind")
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:  # (a rebalance: the listener reads the store again)
            await admin.create_partitions({topics.product: NewPartitions(total_count=2)})
        finally:
            await admin.close()
        await eventually(lambda: runtime.projector.assigned == {0, 1}, timeout_s=30)
        await produce_events(
            kafka_bootstrap, topics.product, [change(f"new-{n}") for n in range(4)]
        )

        async def applied() -> bool:
            answers = [await projector.get(f"/v1/catalogs/42/items/new-{n}") for n in range(4)]
            return all(answer.status_code == 200 for answer in answers)

        await eventually(applied, timeout_s=30)
