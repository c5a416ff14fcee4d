"""What a caught-up consumer puts in its next batch, through a real broker: the records fetched
while the batch before it was written join those fetched before, instead of waiting for the
batch after (aiokafka fetches a partition again only once what it holds for it was taken)."""

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
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import dump, eventually, make_topics, produce_events, projector_settings


class HeldStore(SqliteStore):
    """A real SQLite store whose first item lookup (planning the first batch) and first batch
    write each wait until the test lets them go on."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.written: list[dict[int, int]] = []  # each batch's next offsets, in write order
        self.looking_up, self.lookup_goes_on = threading.Event(), threading.Event()
        self.writing, self.write_goes_on = threading.Event(), threading.Event()

    def load_items(
        self, keys: Iterable[ItemKey], chunk: int = 400
    ) -> dict[ItemKey, ItemState | Removed]:
        if not self.looking_up.is_set():
            self.looking_up.set()
            assert self.lookup_goes_on.wait(60), "the test never let the lookup go on"
        return super().load_items(keys, chunk)

    def write(self, topic: str, plan: BatchPlan) -> None:
        if not self.writing.is_set():
            self.writing.set()
            assert self.write_goes_on.wait(60), "the test never let the write go on"
        super().write(topic, plan)
        self.written.append(dict(plan.next_offsets))


async def test_records_fetched_during_a_write_join_the_next_batch(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    store = HeldStore(tmp_path / "views.db")
    store.create()
    loop = ConsumerLoop(settings, store, ProjectorMetrics())
    tp = TopicPartition(topics.product, 0)

    def fetched_up_to(end: int) -> bool:  # a fetch answer reached `end` (the loop holds it)
        consumer = loop._consumer
        return consumer is not None and consumer.highwater(tp) == end

    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    try:
        await produce_events(kafka_bootstrap, topics.product, [change("a", minute=0)])
        assert await asyncio.to_thread(store.looking_up.wait, 60)  # batch [0] is being planned
        await produce_events(kafka_bootstrap, topics.product, [change("b", minute=0)])
        await eventually(lambda: fetched_up_to(2))
        store.lookup_goes_on.set()
        # Batch [0] is being written; offset 1 was taken from aiokafka as it started, which sent
        # the next fetch: offset 2 arrives while the write is held.
        assert await asyncio.to_thread(store.writing.wait, 60)
        await produce_events(kafka_bootstrap, topics.product, [change("c", minute=0)])
        await eventually(lambda: fetched_up_to(3))
        store.write_goes_on.set()
        await eventually(lambda: any(w.get(0) == 3 for w in store.written))
        # Before: [1] was planned as the write began, and 2 waited for the batch after it.
        assert store.written == [{0: 1}, {0: 3}]
        assert {row[1] for row in dump(store)["items"]} == {"a", "b", "c"}
    finally:
        store.lookup_goes_on.set()
        store.write_goes_on.set()
        stop.set()
        await asyncio.wait_for(running, 60)
        store.close()
