"""Through a real broker, on one SQLite store: aiokafka hands out the records of a partition just
assigned, fetched from the group's Kafka offsets (only a mirror, behind the store's), while the
assignment listener is still reading the store's positions. Such a batch is planned as if
nothing had been applied there. The store refused to write it, but it was kept and restated
first: the views' own records were restated, and a dead letter was written again (found as the
"missing" changes in a new generation's feed after a rebuild: they were these restatements)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.headers import RESTATES
from catalog_contract.keys import product_key
from projector.batch import ItemKey
from projector.consumer import ConsumerLoop
from projector.dead_letter_writer import DeadLetterWriter
from projector.item_state import ItemState, Removed
from projector.metrics import ProjectorMetrics
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from projector.topic_writer import TopicWriter
from tests.factories import change
from tests.support import eventually, make_topics, produce_events, projector_settings, read_topic

pytestmark = pytest.mark.broker
BROKEN = b"\x00 not an Avro event"


class LatePositions(SqliteStore):
    """A real SQLite store whose first positions read (the assignment listener's) answers only
    once a batch is being planned: what a loaded database does to the listener, every time."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.planning = threading.Event()
        self._asked = False

    def load_items(
        self, keys: Iterable[ItemKey], chunk: int = 400
    ) -> dict[ItemKey, ItemState | Removed]:
        self.planning.set()
        return super().load_items(keys, chunk)

    def positions(self, topic: str) -> dict[int, int]:
        if not self._asked:
            self._asked = True
            assert self.planning.wait(60), "no batch was planned while the positions were read"
        return super().positions(topic)


async def _consume(settings: ProjectorSettings, store: SqliteStore, end: int) -> None:
    """Run a live consumer (restating, dead-lettering) until it applied the topic to its end,
    `end` at least, then stop."""
    metrics, writer = ProjectorMetrics(), TopicWriter(settings)
    loop = ConsumerLoop(
        settings,
        store,
        metrics,
        restater=RestatementWriter(settings, metrics, writer),
        dead_letters=DeadLetterWriter(settings, metrics, writer),
    )
    # The store owes no restatement (read already, and not read again for a while): the loop's
    # first turn then waits on no store read queued behind the listener's, and goes on to fetch.
    assert loop.owed is not None
    assert await loop.owed.known() == set()
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    reader = SqliteStore(store.path)  # the test's own reads, apart from the consumer's
    try:

        def caught_up() -> bool:  # `end`, and whatever the consumer wrote there itself
            return reader.positions(settings.topic).get(0, 0) >= end and loop.caught_up()

        await eventually(caught_up, timeout_s=60)
    finally:
        stop.set()
        await running
        await writer.stop()
        reader.close()


async def test_a_batch_planned_before_the_positions_were_read_keeps_and_restates_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    db = tmp_path / "views.db"
    settings = projector_settings(kafka_bootstrap, topics, db)
    await produce_events(kafka_bootstrap, topics.product, [change("a", minute=1, price="1.00")])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topics.product, BROKEN, key=product_key("42", "broken"))
    finally:
        await producer.stop()
    store = SqliteStore(db)
    store.create()
    await _consume(settings, store, 2)
    store.close()
    await produce_events(kafka_bootstrap, topics.product, [change("a", minute=2, price="2.00")])
    # Another group: no Kafka offsets (expired, renamed, or not mirrored before a crash), so
    # aiokafka fetches from the beginning while the listener reads the store's positions.
    late = LatePositions(db)
    again = settings.model_copy(update={"group_id": f"{settings.group_id}-again"})
    await _consume(again, late, 3)
    late.close()
    assert late.planning.is_set()
    # The topic holds the three records written, and no restatement: the item's records each
    # say its whole state (before: the early batch, planned from offset 0, judged the first
    # one a repeat and restated the item). The broken record is dead-lettered once.
    records = await read_topic(kafka_bootstrap, topics.product)
    restated = [(r.offset, dict(r.headers or ()).get(RESTATES)) for r in records]
    assert restated == [(0, None), (1, None), (2, None)]
    dead = await read_topic(kafka_bootstrap, topics.projector_dead_letter)
    assert [d.value for d in dead] == [BROKEN]
