"""A TCP proxy in front of a Kafka broker that sees each whole frame, for tests that swallow one
client's requests or hold some answers (a broker that does not answer, or answers slowly, to
that client only): `KafkaProxy`, whose `request` and `answering` a subclass overrides, and the
two the first catch-up's look tests use (`LookProxy`, `SlowMetadata`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from catalog_stream.ports import free_port

LOOK_CLIENT = b"catalog-stream-projector-first-load"  # the client id of first_load's look
METADATA = 3  # Kafka's api key
HOLD_S = 1.0


def client_id(request: bytes) -> bytes:
    return request[14 : 14 + int.from_bytes(request[12:14], "big")]


def api_key(request: bytes) -> int:
    return int.from_bytes(request[4:6], "big")


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One Kafka frame (its size included), or b"" at the end of the stream."""
    try:
        size = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return b""
    return size + await reader.readexactly(int.from_bytes(size, "big"))


class Connection:
    """One client connection's state: whether the look used it, the answers it holds (by their
    correlation ids)."""

    def __init__(self) -> None:
        self.looked = False
        self.holding: set[bytes] = set()


class KafkaProxy:
    """Forwards every frame both ways, unless `request` swallows it (never forwarded, never
    answered) or `answering` makes an answer wait. `open`: client connections not yet closed."""

    def __init__(self, broker: str) -> None:
        host, port = broker.rsplit(":", 1)
        self.broker = (host, int(port))
        self.port = free_port()
        self.open = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, frame: bytes, connection: Connection) -> bool:
        """Forward this request (True), or swallow it."""
        return True

    async def answering(self, frame: bytes, connection: Connection) -> None:
        """Before an answer goes back to the client."""

    def closed(self, connection: Connection) -> None:
        """The client's connection is closed."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        connection = Connection()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.broker)
        except OSError:
            self.open -= 1
            writer.close()
            return
        down = asyncio.create_task(self._answers(up_reader, writer, connection))
        try:
            while frame := await read_frame(reader):
                if self.request(frame, connection):
                    up_writer.write(frame)
                    await up_writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            self.closed(connection)
            down.cancel()
            with contextlib.suppress(BaseException):
                await down
            up_writer.close()
            writer.close()

    async def _answers(
        self, up: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: Connection
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while frame := await read_frame(up):
                await self.answering(frame, connection)
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


class LookProxy(KafkaProxy):
    """Answers every client but the look, whose requests it swallows: all of them, or only its
    metadata requests. `looks`: connections of the look not yet closed by the client."""

    def __init__(self, broker: str, only_metadata: bool = False) -> None:
        super().__init__(broker)
        self.only_metadata = only_metadata
        self.looks = 0
        self.swallowed = asyncio.Event()  # a request of the look swallowed here

    def request(self, frame: bytes, connection: Connection) -> bool:
        if client_id(frame) != LOOK_CLIENT:
            return True
        if not connection.looked:
            connection.looked = True
            self.looks += 1
        if api_key(frame) == METADATA or not self.only_metadata:
            self.swallowed.set()
            return False
        return True

    def closed(self, connection: Connection) -> None:
        if connection.looked:
            self.looks -= 1


class SlowMetadata(KafkaProxy):
    """Holds its answers to the look's metadata requests for HOLD_S (a broker slow under load)."""

    def __init__(self, broker: str) -> None:
        super().__init__(broker)
        self.held = asyncio.Event()  # a metadata request of the look arrived

    def request(self, frame: bytes, connection: Connection) -> bool:
        if api_key(frame) == METADATA and client_id(frame) == LOOK_CLIENT:
            connection.holding.add(frame[8:12])  # its correlation id
            self.held.set()
        return True

    async def answering(self, frame: bytes, connection: Connection) -> None:
        if frame[4:8] in connection.holding:
            await asyncio.sleep(HOLD_S)
