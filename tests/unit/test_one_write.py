"""Both services' servers write an answer of known length in one write, head and body
(runtime_support.one_write): uvicorn wrote the head, then the body, two send(2)s and two
packets an answer, a quarter of the projector's CPU per item lookup. Failed before: two
writes for each answer. The answers that must not wait for a body are attacked too: a stream's
head goes out before its first chunk, a HEAD's head goes out, an app failing between head and
body leaves the head then the close. A real uvicorn server on a loopback socket, as
`catalog-stream receiver` / `projector` configure them, its transport's writes recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from tests.unit.test_header_deadline import CONFIGS, server_on_loopback

PING = b'{"ping":"pong"}'


class Recorder:
    """A transport that records every write."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def _app(stream_may_go_on: asyncio.Event) -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await stream_may_go_on.wait()
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": False})

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise RuntimeError("the body never comes")

    app.mount("/stream", stream)
    app.mount("/failing", failing)
    return app


@asynccontextmanager
async def connected(
    configure: Callable[[FastAPI], uvicorn.Config], app: FastAPI
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter, Recorder]]:
    """A server, a connection to it, and its transport's writes recorded."""
    async with server_on_loopback(configure(app)) as (port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(1_000):
            if server.server_state.connections:
                break
            await asyncio.sleep(0.01)
        (protocol,) = server.server_state.connections
        recorder = protocol.transport = Recorder(protocol.transport)  # type: ignore[assignment]
        yield reader, writer, recorder
        writer.close()


@CONFIGS
async def test_answers_of_known_length_go_out_in_one_write_each(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    async with connected(configure, _app(asyncio.Event())) as (reader, writer, recorder):
        for n in range(3):  # one kept-alive connection
            writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200")
            assert b"content-length: 15\r\n" in head
            assert await asyncio.wait_for(reader.readexactly(15), 10) == PING
            assert len(recorder.writes) == n + 1
            assert recorder.writes[-1] == head + PING


@CONFIGS
async def test_a_head_request_gets_its_head(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    """uvicorn writes no body for a HEAD: nothing would send a held head."""
    async with connected(configure, _app(asyncio.Event())) as (reader, writer, recorder):
        writer.write(b"HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 405")  # (a plain FastAPI app: GET only)
        assert recorder.writes == [head]


@CONFIGS
async def test_a_streams_head_goes_out_before_its_first_chunk(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    may_go_on = asyncio.Event()
    async with connected(configure, _app(may_go_on)) as (reader, writer, recorder):
        writer.write(b"GET /stream/ HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"transfer-encoding: chunked\r\n" in head
        may_go_on.set()
        chunk = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
        assert chunk == b"9\r\ndata: 1\n\n\r\n0\r\n\r\n"
        assert recorder.writes[0] == head


@CONFIGS
async def test_an_app_failing_after_its_head_leaves_the_head_then_the_close(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    async with connected(configure, _app(asyncio.Event())) as (reader, writer, _):
        writer.write(b"GET /failing/ HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, no body
