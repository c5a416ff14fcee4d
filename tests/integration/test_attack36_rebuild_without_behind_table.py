"""A rebuild of views whose generation lacks the `behind` table (made by a version before it,
then followed after another instance's switch: only a start creates missing tables), a real
broker. A rebuild is what moves such views to a generation of this version's.

Attacked (break36): the rebuild read the partitions any instance said behind from the active
generation's table; the read failing on the missing table (StoreFailed) failed the rebuild,
every time: the views could not be rebuilt at all. The live consumer already read it as "none
said" (test_attack35_behind_table_missing); the rebuild does so too now. Failed before: the
rebuild's state was "failed" ("no such table: behind")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.support import (
    caught_up,
    make_topics,
    produce_events,
    projector_settings,
    rebuilt,
)

pytestmark = pytest.mark.broker


async def test_views_without_the_behind_table_are_rebuilt(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"old-{n}") for n in range(3)]
    )
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with projector_in_process(settings) as (runtime, projector):
        await caught_up(projector, written)
        with sqlite3.connect(tmp_path / "v.db") as db:
            db.execute("DROP TABLE behind")
        status = await rebuilt(projector, timeout_s=120)
        assert status["state"] == "done"
        assert (await projector.get("/v1/catalogs/42/items/old-2")).status_code == 200
        assert runtime.store.behind(topics.product) == {}  # (the new generation has the table)
