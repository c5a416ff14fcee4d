"""The projector's producer against a broker that takes connections and never answers (a hung
broker, a half-open link): each write gives up at its timeout, and the producer it was starting
is stopped, not dropped (before, every timed-out start left an unclosed AIOKafkaProducer, warned
about and logged as an error by asyncio when collected: one per owed-retry round and per batch
while it hangs)."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

from projector.settings import ProjectorSettings
from projector.topic_writer import Outgoing, TopicWriter


async def test_a_write_timed_out_while_the_producer_starts_leaves_no_producer_behind() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the request, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    topic_writer = TopicWriter(ProjectorSettings(bootstrap_servers=f"127.0.0.1:{port}"))
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        for _ in range(2):
            with pytest.raises(TimeoutError):
                await topic_writer.write([Outgoing("t", b"k", b"v", ())], 0.5)
        gc.collect()
    assert [str(w.message) for w in warned if "AIOKafkaProducer" in str(w.message)] == []
    await topic_writer.stop()
    server.close()
    await server.wait_closed()
