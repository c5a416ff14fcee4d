"""A projector stopped while its look at the topic's bounds (first_load.topic_bounds, before a
first catch-up in parts) is still connecting: nothing of that look is left behind, neither a
connection nor an "Unclosed AIOKafkaConnection" (a ResourceWarning, an error under the tests'
strict warnings), and the stop still ends within seconds.

The look's bootstrap goes through a proxy that holds the broker's answer to its metadata
request for a second (a broker slow under load): the stop comes while aiokafka's start waits for
it. Fails on the code before (2589f6e): the stop cancelled that start, whose bootstrap connection
aiokafka had not yet recorded anywhere `stop` closes; it stayed open until collected."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from catalog_stream.broker import free_port
from tests.projector_harness import projector_in_process
from tests.support import Topics, eventually, projector_settings

pytestmark = pytest.mark.broker
LOOK_CLIENT = b"catalog-stream-projector-first-load"
METADATA = 3  # Kafka's api key
HOLD_S = 1.0


class SlowMetadata:
    """A TCP proxy to the broker that holds its answers to the look's metadata requests."""

    def __init__(self, broker: str) -> None:
        host, port = broker.rsplit(":", 1)
        self.broker = (host, int(port))
        self.port = free_port()
        self.held = asyncio.Event()  # a metadata request of the look arrived
        self.open = 0  # client connections not yet closed
        self._tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        holding: set[bytes] = set()  # correlation ids whose answers wait
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.broker)
        except OSError:
            self.open -= 1
            writer.close()
            return
        down = asyncio.create_task(self._answers(up_reader, writer, holding))
        try:
            while frame := await _frame(reader):
                api_key = int.from_bytes(frame[4:6], "big")
                client = frame[14 : 14 + int.from_bytes(frame[12:14], "big")]
                if api_key == METADATA and client == LOOK_CLIENT:
                    holding.add(frame[8:12])
                    self.held.set()
                up_writer.write(frame)
                await up_writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            down.cancel()
            with contextlib.suppress(BaseException):
                await down
            up_writer.close()
            writer.close()

    async def _answers(
        self, up: asyncio.StreamReader, writer: asyncio.StreamWriter, holding: set[bytes]
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while frame := await _frame(up):
                if frame[4:8] in holding:
                    await asyncio.sleep(HOLD_S)
                writer.write(frame)
                await writer.drain()

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._accepted, "127.0.0.1", self.port)
        try:
            yield f"127.0.0.1:{self.port}"
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()


async def _frame(reader: asyncio.StreamReader) -> bytes:
    """One Kafka frame (its size included), or b"" at the end of the stream."""
    try:
        size = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return b""
    return size + await reader.readexactly(int.from_bytes(size, "big"))


async def test_a_stop_during_the_look_at_the_topic_leaves_no_connection(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = SlowMetadata(kafka_bootstrap)
    async with proxy.running() as through:
        settings = projector_settings(
            through, topics, tmp_path / "views.db", rebuild_workers=2, first_load_min_records=1
        )
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", ResourceWarning)
            async with projector_in_process(settings):
                await eventually(proxy.held.is_set, timeout_s=30, every_s=0.01)
                started = time.monotonic()  # the stop: the lifespan's end
            stopping_s = time.monotonic() - started
            await asyncio.sleep(0.2)  # (a connection's closing takes a turn of the loop)
            left = proxy.open
            gc.collect()  # (what was left unclosed says so when collected)
            await asyncio.sleep(0.1)
    unclosed = [str(w.message) for w in warned if "Unclosed" in str(w.message)]
    unclosed += [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
    assert unclosed == []
    assert left == 0
    assert stopping_s < 10, stopping_s
