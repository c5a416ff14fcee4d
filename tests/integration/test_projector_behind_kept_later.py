"""A partition said behind while the store cannot keep the finding (the database restarting, a
locked SQLite file) is kept once the store answers again (a real broker).

Attacked (break35): the finding's write was tried once; on failure one WARNING, and the finding
lived in that loop's memory only. A restart or a rebalance afterwards forgot it: the consumer
sought the views' position, which a refilled topic holds, and applied the new topic past it
(test_attack35_behind_across_restart is that case with the write kept). Failed before: the
store's `behind` table stayed empty."""

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


async def test_a_finding_the_store_could_not_keep_is_kept_once_it_answers(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"old-{n}") for n in range(20)]
    )
    settings = quick_metadata_settings(kafka_bootstrap, topics, tmp_path)
    say_behind, refusals = SqliteStore.say_behind, [3]

    def refusing_say_behind(self: SqliteStore, *args: object) -> None:
        if refusals[0] > 0:
            refusals[0] -= 1
            raise StoreUnavailable("database is locked")
        say_behind(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteStore, "say_behind", refusing_say_behind)
    async with projector_in_process(settings) as (runtime, projector):
        await caught_up(projector, written)
        await recreated_topic(kafka_bootstrap, topics.product)
        await produce_events(kafka_bootstrap, topics.product, [change("new-0")])
        await eventually(lambda: 0 in runtime.projector.behind, timeout_s=30)
        assert refusals[0] < 3  # (the attack happened: a write was refused)
        await eventually(lambda: runtime.store.behind(topics.product), timeout_s=15)
        assert runtime.store.behind(topics.product) == {0: runtime.projector.behind[0]}
