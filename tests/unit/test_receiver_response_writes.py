"""The receiver's HTTP protocol (receiver.response_writes): one socket write per small response,
the same bytes on the wire as uvicorn's own httptools protocol, and no head held back while the
app waits before its body. Real uvicorn servers on loopback sockets, a raw client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from receiver.main import server_config
from receiver.response_writes import HeadHeld, OneWriteHttpToolsProtocol
from receiver.settings import ReceiverSettings

BODY = b'{"event_id":"x","topic":"t","partition":1,"offset":2,"position":"1-2"}'


def app_for(go_on: asyncio.Event) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass
        path = scope["path"]
        if path == "/waits":  # the head, then the body only once the client had the head
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await go_on.wait()
            await send({"type": "http.response.body", "body": b"late", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/empty":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-length", b"%d" % len(BODY)), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": BODY})

    return app


class Writes:
    """The writes that reach a connection's own transport."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def recording(self, protocol: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
        sent = self.sent

        class Spy:
            def __init__(self, transport: asyncio.Transport) -> None:
                self._transport = transport

            def write(self, data: bytes) -> None:
                sent.append(bytes(data))
                self._transport.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._transport, name)

        def connection_made(self: Any, transport: asyncio.Transport) -> None:
            protocol.connection_made(self, Spy(transport))  # type: ignore[arg-type]

        return type("Recording", (protocol,), {"connection_made": connection_made})


@asynccontextmanager
async def serving(protocol: type[asyncio.Protocol] | str, app: Any) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, http=protocol, log_config=None, server_header=False, date_header=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, no event
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def exchange(port: int, requests: bytes, until: int) -> bytes:
    """Send `requests` (pipelined), read until `until` responses' heads have come back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(requests)
    received = b""
    while received.count(b"HTTP/1.1 ") < until or not received.endswith((BODY, b"\r\n\r\n")):
        chunk = await asyncio.wait_for(reader.read(65536), 10)
        if not chunk:
            break
        received += chunk
    writer.close()
    return received


def request(path: str, method: str = "POST", body: bytes = b"{}") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body
    )


SEQUENCE = (
    request("/accepted")
    + request("/empty")
    + request("/accepted", "HEAD", b"")
    + request("/accepted", body=b"x" * 70_000)
    + request("/accepted")
)


async def test_the_receivers_server_writes_each_small_response_once() -> None:
    """Fails on the old code: uvicorn's protocol writes the head, then the body."""
    settings = ReceiverSettings(secrets=[SecretStr("x" * 16)])
    config = server_config(settings, app_for(asyncio.Event()))  # type: ignore[arg-type]
    config.load()
    writes = Writes()
    async with serving(writes.recording(config.http_protocol_class), config.app) as port:
        for _ in range(3):
            answer = await exchange(port, request("/accepted"), 1)
            assert answer.endswith(BODY)
    assert len(writes.sent) == 3
    for sent in writes.sent:
        assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
        assert sent.endswith(BODY)


async def test_the_same_bytes_as_uvicorns_own_protocol() -> None:
    answers = []
    for protocol in (HttpToolsProtocol, OneWriteHttpToolsProtocol):
        async with serving(protocol, app_for(asyncio.Event())) as port:
            answers.append(await exchange(port, SEQUENCE, 5))
    assert answers[0] == answers[1]
    assert answers[1].count(b"HTTP/1.1 200 OK") == 4
    assert b"HTTP/1.1 204 No Content" in answers[1]


async def test_a_head_is_not_held_while_the_app_waits_for_its_body() -> None:
    go_on = asyncio.Event()
    async with serving(OneWriteHttpToolsProtocol, app_for(go_on)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("/waits"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        go_on.set()
        rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
        assert b"late" in rest
        writer.close()


class Recorder:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.closed:
            raise AssertionError("written after close")
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


@pytest.mark.parametrize(
    ("writes", "expected"),
    [
        ([b"HTTP/1.1 200 OK\r\na: b\r\n\r\n", b"body"], [b"HTTP/1.1 200 OK\r\na: b\r\n\r\nbody"]),
        ([b"HTTP/1.1 100 Continue\r\n\r\n"], []),  # held until the loop turns
        ([b"body", b"more"], [b"body", b"more"]),  # not a head: at once
        ([b"HTTP/1.1 200 OK\r\na: b\r\n"], [b"HTTP/1.1 200 OK\r\na: b\r\n"]),  # not a whole head
    ],
)
async def test_head_held_writes(writes: list[bytes], expected: list[bytes]) -> None:
    recorder = Recorder()
    held = HeadHeld(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
    for data in writes:
        held.write(data)
    assert recorder.sent == expected
    await asyncio.sleep(0)
    assert b"".join(recorder.sent) == b"".join(writes)  # nothing held past the loop's turn
    assert held.get_extra_info("peername") == "info peername"


async def test_a_held_head_leaves_before_close_and_not_after() -> None:
    recorder = Recorder()
    held = HeadHeld(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    held.close()
    assert recorder.sent == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]
    assert recorder.closed
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    await asyncio.sleep(0)  # the flush finds the transport closing: dropped, no write
    assert recorder.sent == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]


async def test_100_continue_is_not_held_while_the_client_waits_for_it() -> None:
    """The interim head has no body after it: it must leave on its own for the body to come."""
    async with serving(OneWriteHttpToolsProtocol, app_for(asyncio.Event())) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = b"POST /a HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 2\r\n"
        writer.write(head + b"\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"{}")
        final = await asyncio.wait_for(reader.readuntil(BODY), 10)
        assert final.startswith(b"HTTP/1.1 200 OK\r\n")
        writer.close()
