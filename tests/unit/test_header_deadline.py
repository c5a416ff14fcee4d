"""Both services' servers close a connection whose request head does not arrive in time
(slowloris). Found by the stop-24 attack: a live receiver and projector kept a connection that
trickled a header line every 2 s open for as long as the attacker liked. A real uvicorn server
on a loopback socket, as `catalog-stream receiver` / `projector` configure it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI, Request, WebSocket

from projector import main as projector_main
from projector.settings import ProjectorSettings
from receiver import main as receiver_main
from receiver.settings import ReceiverSettings

DEADLINE_S = 1.0
GIVE_UP_S = 12.0  # far past the deadline on a loaded machine; the old code never closed


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    @app.post("/size")
    async def size(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.websocket("/ws")
    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())

    return app


def receiver_config(app: FastAPI) -> uvicorn.Config:
    settings = ReceiverSettings(dev_mode=True, request_timeout_s=DEADLINE_S)
    return receiver_main.server_config(settings, app)


def projector_config(app: FastAPI) -> uvicorn.Config:
    return projector_main.server_config(ProjectorSettings(), app, header_timeout_s=DEADLINE_S)


CONFIGS = pytest.mark.parametrize("configure", [receiver_config, projector_config])


@asynccontextmanager
async def server_on_loopback(
    config: uvicorn.Config,
) -> AsyncIterator[tuple[int, uvicorn.Server]]:
    """A real uvicorn server with `config` on a loopback socket, once started: its port and
    itself; asked to exit, and waited for, at the end."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(3_000):  # up to 30 s on a loaded machine
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@asynccontextmanager
async def serving(configure: Callable[[FastAPI], uvicorn.Config]) -> AsyncIterator[int]:
    async with server_on_loopback(configure(_app())) as (port, _):
        yield port


async def _closed_within(
    reader: asyncio.StreamReader, trickle: Callable[[], None], give_up_s: float = GIVE_UP_S
) -> float:
    """Seconds until the server closed the connection (EOF), trickling meanwhile."""
    start = time.monotonic()
    while time.monotonic() - start < give_up_s:
        trickle()
        try:
            if await asyncio.wait_for(reader.read(1024), 0.25) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
    return give_up_s


@CONFIGS
async def test_a_trickled_request_head_is_cut_off(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    async with serving(configure) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        waited = await _closed_within(reader, lambda: writer.write(b"X-Slow: 1\r\n"))
        writer.close()
    assert DEADLINE_S * 0.9 <= waited < GIVE_UP_S


@CONFIGS
async def test_a_connection_that_sends_nothing_is_cut_off(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    async with serving(configure) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        waited = await _closed_within(reader, lambda: None)
        writer.close()
    assert waited < GIVE_UP_S


@CONFIGS
async def test_requests_in_time_are_answered_on_one_kept_alive_connection(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    """The deadline is per request head: a connection outliving it is not cut mid-use."""
    async with serving(configure) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):
            writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200")
            assert await asyncio.wait_for(reader.readexactly(15), 10) == b'{"ping":"pong"}'
            await asyncio.sleep(DEADLINE_S * 0.7)  # together longer than the deadline
        writer.close()


async def _answered(reader: asyncio.StreamReader) -> None:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200")
    assert await asyncio.wait_for(reader.readexactly(15), 10) == b'{"ping":"pong"}'


@CONFIGS
async def test_blank_lines_after_an_answer_do_not_hold_the_connection(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    """Found by the stop-25 attack: any byte cancels uvicorn's keep-alive timer, and a blank
    line before a request line starts no request, so one CRLF after an answer kept the
    connection open for as long as the client liked, sending nothing more."""
    async with serving(configure) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        await _answered(reader)
        writer.write(b"\r\n")
        waited = await _closed_within(reader, lambda: None)
        writer.close()
    assert waited < GIVE_UP_S


@CONFIGS
async def test_the_unread_body_of_an_answered_request_does_not_hold_the_connection(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    """Found by the stop-25 attack: a GET answered without reading its declared body; one
    body byte after the answer cancelled the keep-alive timer, and no request head was due."""
    async with serving(configure) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        await _answered(reader)
        writer.write(b"x")
        waited = await _closed_within(reader, lambda: None)
        writer.close()
    assert waited < GIVE_UP_S


@CONFIGS
async def test_a_body_slower_than_the_deadline_after_a_quick_head_is_received(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    """The deadline covers the head only: a body has its own limit (the receiver's)."""
    async with serving(configure) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
        for _ in range(4):
            await asyncio.sleep(DEADLINE_S * 0.6)  # 2.4 deadlines in all
            writer.write(b"x")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.readexactly(10), 10) == b'{"size":4}'
        writer.close()


@CONFIGS
async def test_an_upgraded_connection_is_not_cut_by_the_deadline(
    configure: Callable[[FastAPI], uvicorn.Config],
) -> None:
    """Bytes after an upgrade to WebSocket (uvicorn hands the socket over to its WebSocket
    protocol) are not a request head that is late."""
    async with serving(configure) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101")
        kept_s = DEADLINE_S * 4
        waited = await _closed_within(reader, lambda: None, give_up_s=kept_s)
        writer.close()
    assert waited == kept_s
