"""The receiver's server writes each answer in one socket write (receiver.one_write), and puts on
the wire exactly the bytes uvicorn's own httptools protocol does. A real uvicorn server on a
loopback socket, as `catalog-stream receiver` configures it; the client counts the TCP segments
carrying data that reached its socket (Linux's tcp_info)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from receiver import main as receiver_main
from receiver.settings import ReceiverSettings
from tests.tcp_segments import data_segments_in


def segments_in(writer: asyncio.StreamWriter) -> int:
    return data_segments_in(writer.get_extra_info("socket"))


class _App(FastAPI):
    """Two raw ASGI answers in front of the routes (as the receiver's own app has)."""

    release: asyncio.Event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/half":
            # Starts an answer, then fails: uvicorn closes the connection after the head.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise RuntimeError("after the start")
        if scope["type"] == "http" and scope["path"] == "/slow":
            # The head, then the body only once the client has seen the head.
            headers = [(b"content-length", b"4")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"body"})
            return
        await super().__call__(scope, receive, send)


def _app() -> _App:
    app = _App()
    app.release = asyncio.Event()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    @app.post("/size")
    async def size(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in (b"one", b"", b"three"):
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/nothing")
    async def nothing() -> Response:
        return Response(status_code=204)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


def receiver_config(app: FastAPI) -> uvicorn.Config:
    return receiver_main.server_config(ReceiverSettings(dev_mode=True), app)


def uvicorn_config(app: FastAPI) -> uvicorn.Config:
    """uvicorn's own httptools protocol, with the receiver's other server settings."""
    config = receiver_config(app)
    config.http = "httptools"
    return config


@asynccontextmanager
async def serving(config: uvicorn.Config) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(3_000):  # up to 30 s on a loaded machine
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _answer(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    return head + await asyncio.wait_for(reader.readexactly(length), 10)


ONE_SEGMENT = [
    b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",  # a JSON 200
    b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",  # a 404
    b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n",  # Starlette's 500
    b"POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
]


@pytest.mark.parametrize("request_bytes", ONE_SEGMENT)
async def test_an_answer_arrives_in_one_segment(request_bytes: bytes) -> None:
    """Fails on the code before (uvicorn's protocol): 2 segments, the head and the body."""
    async with serving(receiver_config(_app())) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):  # each answer of a kept-alive connection
            before = segments_in(writer)
            writer.write(request_bytes)
            answer = await _answer(reader)
            assert segments_in(writer) - before == 1, answer
            if b"/boom" in request_bytes:  # uvicorn closes after the app's exception
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


# Each sent whole on a fresh connection, read to its end (the last request closes it).
EXCHANGES = {
    "200": b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "HEAD": b"HEAD /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "chunked": b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "204": b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "404": b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "500": b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n",
    "fails after start": b"GET /half HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/1.0": b"GET /ping HTTP/1.0\r\n\r\n",
    "100-continue": (
        b"POST /size HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
        b"Connection: close\r\n\r\nabc"
    ),
    "pipelined": (
        b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\nHEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n"
    ),
    "bad bytes after a request": b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP\x00\r\n\r\n",
    "bad request": b"GET /\x00 HTTP/1.1\r\n\r\n",
}


async def _exchange(port: int, request_bytes: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes)
    received = await asyncio.wait_for(reader.read(), 10)  # to the server's close
    writer.close()
    return re.sub(rb"date: [^\r]*\r\n", b"date: -\r\n", received)


@pytest.mark.parametrize("name", list(EXCHANGES))
async def test_the_same_bytes_as_uvicorns_own_protocol(name: str) -> None:
    async with serving(uvicorn_config(_app())) as port:
        expected = await _exchange(port, EXCHANGES[name])
    async with serving(receiver_config(_app())) as port:
        received = await _exchange(port, EXCHANGES[name])
    assert expected.startswith(b"HTTP/1.1 ")
    assert received == expected


async def test_a_head_is_not_held_back_for_a_body_that_comes_later() -> None:
    """An answer started and continued later (a stream) shows its head at once, as uvicorn's
    own protocol does (passes on the code before too: it guards the holding)."""
    app = _app()
    async with serving(receiver_config(app)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        app.release.set()
        assert await asyncio.wait_for(reader.readexactly(4), 10) == b"body"
        writer.close()
