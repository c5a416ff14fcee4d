"""Through the real broker: a split rebuild's worker (TargetLoop) that finds Kafka unreachable at
its start waits for it, as the one-process builder does (ConsumerLoop._start). Before, it gave
up at once (consumer.start() raised KafkaConnectionError, the worker exited 1), and the whole
rebuild failed where one process would have gone on. Here Kafka answers on the worker's
bootstrap address only 3 s after the worker started (a forwarder to the broker opens then)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

from catalog_contract import topics as contract_topics
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all
from projector.rebuild_split_worker import Orders, load
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import produce_events

LATE_S = 3.0


async def _forward(bootstrap: str, port: int) -> asyncio.Server:
    """From 127.0.0.1:`port` to the broker (its metadata then names the broker's own address)."""
    host, broker_port = bootstrap.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(host, int(broker_port))
        await asyncio.gather(pipe(reader, broker_writer), pipe(broker_reader, writer))

    return await asyncio.start_server(connected, "127.0.0.1", port)


async def test_a_worker_waits_for_a_broker_unreachable_at_its_start(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"test.split-late.{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(topic, 1, 1, {})])
    items = [change(f"i{n}", "c", minute=1, price="1.00") for n in range(5)]
    assert await produce_events(kafka_bootstrap, topic, items) == 5
    path = tmp_path / "part.db"
    store = SqliteStore(path)
    store.create(False)
    store.close()
    port = free_port()
    settings = ProjectorSettings(bootstrap_servers=f"127.0.0.1:{port}", topic=topic)
    loading = asyncio.create_task(load(Orders(settings, path, {0: 5}, parent=0)))
    await asyncio.sleep(LATE_S)
    assert not loading.done(), loading  # (before: ended with KafkaConnectionError)
    server = await _forward(kafka_bootstrap, port)
    try:
        await asyncio.wait_for(loading, 60)
    finally:
        server.close()
    part = SqliteStore(path)
    try:
        assert part.positions(topic) == {0: 5}
        assert part._query("SELECT COUNT(*) FROM items") == [(5,)]
    finally:
        part.close()
