"""A reader waiting for a batch's position is answered once that batch is committed, through a
real broker: not once the batch after it is planned (the freshness bench's slowest readers
waited here: after the write, records fetched meanwhile join the next batch, whose plan under
way was first waited for, up to 117 ms at 1,000 postbacks/s)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from pathlib import Path

from aiokafka import TopicPartition

from projector.batch import BatchPlan, ItemKey
from projector.consumer import ConsumerLoop
from projector.item_state import ItemState, Removed
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import dump, eventually, make_topics, produce_events, projector_settings


class HeldStore(SqliteStore):
    """A real SQLite store whose first two item lookups (planning the first two batches) and
    first batch write each wait until the test lets them go on."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.lookups = [(threading.Event(), threading.Event()) for _ in range(2)]
        self.writing, self.write_goes_on = threading.Event(), threading.Event()

    def load_items(
        self, keys: Iterable[ItemKey], chunk: int = 400
    ) -> dict[ItemKey, ItemState | Removed]:
        for asked, goes_on in self.lookups:
            if not asked.is_set():
                asked.set()
                assert goes_on.wait(60), "the test never let the lookup go on"
                break
        return super().load_items(keys, chunk)

    def write(self, topic: str, plan: BatchPlan) -> None:
        if not self.writing.is_set():
            self.writing.set()
            assert self.write_goes_on.wait(60), "the test never let the write go on"
        super().write(topic, plan)

    def let_go(self) -> None:
        for _, goes_on in self.lookups:
            goes_on.set()
        self.write_goes_on.set()


async def test_a_reader_is_answered_when_its_batch_commits(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    store = HeldStore(tmp_path / "views.db")
    store.create()
    waiters = PositionWaiters()
    loop = ConsumerLoop(settings, store, ProjectorMetrics(), waiters=waiters)
    tp = TopicPartition(topics.product, 0)
    (first_asked, first_goes_on), (second_asked, _) = store.lookups

    def fetched_up_to(end: int) -> bool:  # a fetch answer reached `end` (the loop holds it)
        consumer = loop._consumer
        return consumer is not None and consumer.highwater(tp) == end

    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    try:
        await produce_events(kafka_bootstrap, topics.product, [change("a", minute=0)])
        assert await asyncio.to_thread(first_asked.wait, 60)  # batch [0] is being planned
        await produce_events(kafka_bootstrap, topics.product, [change("b", minute=0)])
        await eventually(lambda: fetched_up_to(2))
        first_goes_on.set()
        # Batch [0] is being written, batch [1] planned beside it (held); offset 2 arrives
        # during the write, so [1] is planned again with it once the write ends.
        assert await asyncio.to_thread(store.writing.wait, 60)
        assert await asyncio.to_thread(second_asked.wait, 60)
        await produce_events(kafka_bootstrap, topics.product, [change("c", minute=0)])
        await eventually(lambda: fetched_up_to(3))
        reader = asyncio.create_task(waiters.wait(0, 0, 60))
        store.write_goes_on.set()
        # Before: the reader of offset 0 waited for [1]'s plan, held here until the end.
        done, _ = await asyncio.wait([reader], timeout=10)
        assert done == {reader}
        assert reader.result() is True
        assert loop.applied == {0: 1}
        store.let_go()
        await eventually(lambda: loop.applied == {0: 3})
        assert {row[1] for row in dump(store)["items"]} == {"a", "b", "c"}
    finally:
        store.let_go()
        stop.set()
        await asyncio.wait_for(running, 60)
        store.close()
