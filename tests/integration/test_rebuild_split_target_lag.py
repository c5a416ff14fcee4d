"""A split rebuild's worker (TargetLoop) fetches past its targets and hands on only the records
below them: Kafka's position is then past records it never applied. The consumer loop, idle,
notes Kafka's position as `passed` (an offset below which every record is applied, counted by
the lag): taken from such a loop, it claimed the records at and past the target applied, and
its lag said 0 with three records unapplied. Nothing of the worker reads its lag today; the
invariant is what the lag, /readyz and a rebuild's `caught_up` rest on."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from catalog_contract import topics as contract_topics
from catalog_stream.topic_admin import ensure_all
from projector.rebuild_part_loop import TargetLoop
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import produce_events


async def test_a_worker_idle_at_its_target_counts_the_records_past_it_as_lag(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"test.target-lag.{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(topic, 1, 1, {})])
    written = await produce_events(
        kafka_bootstrap,
        topic,
        [change(f"i{n}", "c", minute=1, price="1.00") for n in range(6)],
    )
    assert written == 6
    path = tmp_path / "part.db"
    store = SqliteStore(path)
    store.create(False)
    loop = TargetLoop(
        ProjectorSettings(bootstrap_servers=kafka_bootstrap, topic=topic), store, {0: 3}
    )
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        deadline = time.monotonic() + 30
        while not await loop.done():
            assert not task.done()
            assert time.monotonic() < deadline, "the worker did not reach its target in 30 s"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # several idle polls (200 ms each): `passed` noted by now
        assert loop.applied == {0: 3}
        assert loop.end_offsets == {0: 6}
        assert loop.lag() == 3  # records 3, 4 and 5 are not applied
        assert loop.passed.get(0, 0) <= 3
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        store.close()
