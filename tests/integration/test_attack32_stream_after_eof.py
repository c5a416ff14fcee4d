"""attack32 on the half-close (runtime_support.refusal_in_turn): a change stream whose answer
had not begun when its client's end-of-file came. Real projector process (uvloop, as it runs),
real sockets.

eof_received ends a stream only if its answer is already being sent. A client that asks for the
stream and half-closes at once (or closes whole, or pipelines it behind a read) gives its
end-of-file before the stream's route has answered (it reads the feed first, in a thread): the
connection was kept open for answers owed, the reading stopped, and the stream then began and
never ended. A client that half-closed and reads got keep-alives for ever; one that closed
whole held a stream slot until a keep-alive write failed (15 s), so a client connecting,
sending the request and closing, `stream_max` times, refused every stream for 15 s without
holding one connection. Before the half-close change (a6ef79f~1) uvicorn closed at the
end-of-file and all three tests pass there; on edges31/main all three fail."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from catalog_stream.ports import free_port
from tests.integration.test_pipelined_bad_bytes import answers, clean, get
from tests.support import ADMIN_TOKEN, eventually, make_topics, serves_ready, start_cli, stop

ENDS_S = 5.0  # a stream ended at its client's end-of-file closes at once; keep-alives are 15 s


@asynccontextmanager
async def projector(
    bootstrap: str, tmp_path: Path, log: Path, **variables: str
) -> AsyncIterator[int]:
    """`catalog-stream projector` as a process of its own on new topics: its port."""
    topics = await make_topics(bootstrap)
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOG_LOG_LEVEL": "INFO",
        "CATALOG_PROJECTOR_PORT": str(port),
        "CATALOG_PROJECTOR_TOPIC": topics.product,
        "CATALOG_PROJECTOR_DEAD_LETTER_TOPIC": topics.projector_dead_letter,
        "CATALOG_PROJECTOR_GROUP_ID": f"attack32-{uuid.uuid4().hex[:8]}",
        "CATALOG_PROJECTOR_STORE_URL": f"sqlite:///{tmp_path / 'views.db'}",
        "CATALOG_PROJECTOR_ADMIN_TOKEN": ADMIN_TOKEN,
        **variables,
    }
    process = start_cli("projector", env, log)
    try:
        await eventually(lambda: serves_ready(f"http://127.0.0.1:{port}"), timeout_s=60)
        yield port
    finally:
        stop(process)


def _read_until_closed(client: socket.socket, limit_s: float) -> tuple[bytes, bool]:
    """What the server sent until it closed (True) or `limit_s` passed (False)."""
    client.settimeout(0.5)
    received, deadline = b"", time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            chunk = client.recv(65536)
            if not chunk:
                return received, True
            received += chunk
    return received, False


async def test_a_stream_asked_then_half_closed_at_once_ends(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "projector.log"
    async with projector(kafka_bootstrap, tmp_path, log) as port:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(get("/v1/changes/stream"))
                client.shutdown(socket.SHUT_WR)
                received, closed = _read_until_closed(client, ENDS_S)
            assert closed, f"the stream went on after its client's end-of-file: {received!r}"
    clean(log)


async def test_a_stream_pipelined_behind_a_read_then_half_closed_ends(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The read before it is answered (it was sent whole); the stream ends with the close."""
    log = tmp_path / "projector.log"
    async with projector(kafka_bootstrap, tmp_path, log) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(get("/healthz") + get("/v1/changes/stream"))
            client.shutdown(socket.SHUT_WR)
            received, closed = _read_until_closed(client, ENDS_S)
        assert closed, f"the stream went on after its client's end-of-file: {received!r}"
        head, _, rest = received.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert answers(head + b"\r\n\r\n" + rest[:length]) == [(200, rest[:length])], received
        stream = rest[length:]  # its head at most (the close comes at its start)
        assert not stream or stream.startswith(b"HTTP/1.1 200"), received
    clean(log)


async def test_clients_gone_before_their_stream_began_give_their_slots_back(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """stream_max clients each connect, ask for the stream and close whole: none holds a
    connection, so the next stream is served (200), not refused (503) until keep-alives fail."""
    log = tmp_path / "projector.log"
    async with projector(kafka_bootstrap, tmp_path, log, CATALOG_PROJECTOR_STREAM_MAX="3") as port:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(get("/v1/changes/stream"))
        started = time.monotonic()

        async def served() -> bool:
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
                http.stream("GET", "/v1/changes/stream") as answer,
            ):
                return answer.status_code == 200

        await eventually(served, timeout_s=ENDS_S, every_s=0.25)
        assert time.monotonic() - started < ENDS_S
    clean(log)


async def test_a_head_of_the_stream_then_a_half_close_is_answered(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The fix's own attack: a HEAD of the stream (an answer with no body, not a stream) and a
    read behind it, then the half-close: both answered, then the close. (A HEAD of the stream
    ends at the stream's first body message, on a quiet feed its 15 s keep-alive, half-close
    or not: head_requests.as_get; hence the longer limit.)"""
    log = tmp_path / "projector.log"
    async with projector(kafka_bootstrap, tmp_path, log) as port:
        head = get("/v1/changes/stream").replace(b"GET ", b"HEAD ", 1)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(head + get("/healthz"))
            client.shutdown(socket.SHUT_WR)
            received, closed = _read_until_closed(client, 25)
        assert closed, received
        assert received.count(b"HTTP/1.1 200") == 2, received
        assert received.endswith(b'{"status":"ok"}'), received
    clean(log)
