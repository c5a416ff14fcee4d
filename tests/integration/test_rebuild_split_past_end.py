"""A split rebuild's worker whose target is past its partition's end: the active generation
applied offsets the broker no longer has (a log truncated by an unclean leader election, or the
topic deleted and made again with fewer records). A one-process rebuild's builder catches up to
the end and the switch then fails in bounded time (until_reached: the active positions are not
reached) or goes on once records arrive. The worker waited for Kafka's position to pass the
target: forever, so the rebuild never ended. It now stops once it applied everything up to the
partition's end; the builder goes on from there, as the one-process builder would."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from catalog_contract import topics as contract_topics
from catalog_stream.topic_admin import ensure_all
from projector.rebuild_split_worker import Orders, load
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import produce_events


async def test_a_worker_whose_target_is_past_the_end_stops_at_the_end(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"test.past-end.{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(topic, 1, 1, {})])
    await produce_events(kafka_bootstrap, topic, [
        change("a", "c", minute=1, price="1.00"),
        change("b", "c", minute=1, price="2.00"),
    ])  # fmt: skip
    path = tmp_path / "part.db"
    SqliteStore(path).create(False)
    settings = ProjectorSettings(bootstrap_servers=kafka_bootstrap, topic=topic)
    # The active generation says 5: three records more than the broker has.
    await asyncio.wait_for(load(Orders(settings, path, {0: 5}, os.getpid())), 30)
    part = SqliteStore(path)
    try:
        assert part.positions(topic) == {0: 2}  # every record there is, none invented
        assert part._query("SELECT item_id FROM items ORDER BY 1") == [("a",), ("b",)]
    finally:
        part.close()
