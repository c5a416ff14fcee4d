"""A partition said behind (the topic recreated under the views) is still said behind after a
restart when the store's reads of the findings fail for a moment (SQLite locked by
another connection, a PostgreSQL restart between the two reads), a real broker.

Attacked (break36): the assignment listener read the stored positions, then the findings; a
failure of the second read was taken for a generation without the findings' table (an older
version's) whatever it was: logged, no partition said behind, and the consumer sought the
views' position, which the refilled topic holds, applying the new topic past it. Only a
missing table (StoreFailed, which waiting never mends) is read as "none said" now; a store that
may answer later is asked again as for the positions. Three reads refused (the listener's and
the batch loop's) the partition was never said behind again. Failed before: /readyz did not
say it within 30 s (a single refusal failed only when the listener sought before a fetch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector.errors import StoreUnavailable
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.recreated_topic import quick_metadata_settings, recreated_topic
from tests.support import caught_up, eventually, make_topics, produce_events

pytestmark = pytest.mark.broker


async def test_findings_unreadable_for_a_moment_are_read_again(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
        await eventually(lambda: runtime.store.behind(topics.product), timeout_s=30)
    # Stopped, the topic grows past the views' position (20): offsets 1 to 29.
    await produce_events(
        kafka_bootstrap, topics.product, [change(f"new-{n}") for n in range(1, 30)]
    )
    behind, refusals = SqliteStore.behind, [3]

    def behind_locked_a_while(self: SqliteStore, topic: str) -> dict[int, tuple[int, int]]:
        if refusals[0] > 0:
            refusals[0] -= 1
            raise StoreUnavailable("view store query failed: database is locked")
        return behind(self, topic)

    monkeypatch.setattr(SqliteStore, "behind", behind_locked_a_while)
    async with projector_in_process(settings) as (runtime, projector):

        async def said() -> bool:
            answer = await projector.get("/readyz")
            return answer.status_code == 503 and "holds fewer records" in answer.text

        await eventually(said, timeout_s=30)
        assert refusals[0] < 3  # (the attack happened)
        assert runtime.projector.applied.get(0) == 20
        assert (await projector.get("/v1/catalogs/42/items/new-25")).status_code == 404
