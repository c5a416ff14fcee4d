"""Through a real broker, on one SQLite store that owes a restatement: while Kafka does not
answer the retry's write (each attempt waits `restate_timeout_s`), batches still apply, and the
consumer still stops at once. Before, the retry round ran inside the consumer loop: every round
held consumption back for the whole timeout (16% of an hour at the defaults), and a consumer
stopping (a rebuild's switch, shutdown) waited for it too. The debt is neither lost nor
settled unwritten meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from projector.batch import plan_batch
from projector.consumer import ConsumerLoop
from projector.item_state import Position
from projector.metrics import ProjectorMetrics
from projector.restatement_writer import RestatementWriter
from projector.sqlite_store import SqliteStore
from projector.topic_writer import Outgoing, TopicWriter
from tests.factories import change
from tests.support import eventually, make_topics, produce_events, projector_settings
from tests.unit.test_projector_restatements_owed import A, _batch

pytestmark = pytest.mark.broker
NEVER_S = 600.0  # how long an unanswered write waits: longer than the test


class Unanswered(TopicWriter):
    """Kafka takes the connection and never answers a produce request."""

    writes = 0

    async def write(self, records: Sequence[Outgoing], timeout_s: float) -> None:
        self.writes += 1
        async with asyncio.timeout(timeout_s):
            await asyncio.Event().wait()


async def test_batches_apply_and_the_consumer_stops_while_an_owed_retry_is_unanswered(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    db = tmp_path / "views.db"
    settings = projector_settings(kafka_bootstrap, topics, db, restate_timeout_s=NEVER_S)
    store = SqliteStore(db)
    store.create()
    owing = plan_batch(_batch({A: 0}), {}, lambda key: None)
    owing.owe = {A: Position(0, 0)}  # an earlier process's restatement of A failed
    store.write("elsewhere", owing)
    # Items whose records each say their whole state: their batches restate nothing.
    events = [change(f"i{n}", minute=1, price="1.00") for n in range(3)]
    await produce_events(kafka_bootstrap, topics.product, events)
    metrics, writer = ProjectorMetrics(), Unanswered(settings)
    loop = ConsumerLoop(
        settings, store, metrics, restater=RestatementWriter(settings, metrics, writer)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    reader = SqliteStore(db)  # the test's own reads, apart from the consumer's
    try:
        await eventually(lambda: writer.writes >= 1, timeout_s=60)  # the retry is waiting
        # before: the loop waited NEVER_S for the retry before fetching anything
        await eventually(lambda: reader.positions(topics.product).get(0, 0) == 3, timeout_s=60)
        await produce_events(kafka_bootstrap, topics.product, [change("late", minute=1)])
        await eventually(lambda: reader.positions(topics.product).get(0, 0) == 4, timeout_s=60)
        assert writer.writes == 1  # the same retry still waits for its answer
        assert reader.owed_keys() == {A}
    finally:
        stop.set()
        started = time.monotonic()
        await asyncio.wait([running], timeout=60)
        stopped_in = time.monotonic() - started
        running.cancel()  # before: still waiting for the unanswered write
        await asyncio.gather(running, return_exceptions=True)
        reader.close()
    assert stopped_in < 30  # before: it waited for the unanswered write (NEVER_S)
    assert store.owed_keys() == {A}  # not written: still owed, for the next start
    store.close()
