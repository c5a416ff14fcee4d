"""The benchmark's lean HTTP client against a tiny local server (no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from bench import lean_http
from bench.lean_http import HttpError, Pool


@dataclass
class Server:
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    answer: bytes = b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}'


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.lower().split(b"\r\n")
                sizes = [int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length")]
                length = sizes[0] if sizes else 0
                state.requests.append(head + await reader.readexactly(length))
                writer.write(state.answer)
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = listener.sockets[0].getsockname()[1]
    yield state
    listener.close()


async def test_sequential_requests_share_one_kept_alive_connection(server: Server) -> None:
    pool = Pool("127.0.0.1", server.port, 4)
    first = await pool.request("POST", "/p", b'{"a":1}', {"X-Token": "t"})
    second = await pool.request("GET", "/q?x=1")
    await pool.close()
    assert (first.status, first.json(), second.status) == (200, {"ok": True}, 200)
    assert server.connections == 1
    assert server.requests == [
        b"POST /p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Token: t\r\nContent-Length: 7\r\n\r\n"
        b'{"a":1}' % server.port,
        b"GET /q?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % server.port,
    ]


async def test_a_connection_idle_too_long_is_not_reused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lean_http, "MAX_IDLE_S", 0.0)  # the server may be closing it
    pool = Pool("127.0.0.1", server.port, 4)
    await pool.request("GET", "/")
    await pool.request("GET", "/")
    await pool.close()
    assert server.connections == 2


async def test_an_answer_without_content_length_is_refused(server: Server) -> None:
    server.answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    pool = Pool("127.0.0.1", server.port, 1)
    with pytest.raises(HttpError, match="Content-Length"):
        await pool.request("GET", "/")
