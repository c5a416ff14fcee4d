"""A client that half-closes (shutdown(SHUT_WR)) after its requests still reads: it is owed
every answer to the requests it sent whole. uvicorn closed the connection at its end-of-file:
the request being served lost its answer (a postback Kafka had acknowledged went unanswered) and
the ones waiting their turn (pipelined) were never served. Real sockets against a real receiver
and projector process (uvloop, as they run); every 200 is checked against the topic.

What must hold (runtime_support.refusal_in_turn): every request sent whole before the
half-close is answered, in order, then the connection is closed, in bounded time (the head
deadline is not waited for); a request whose body or head the half-close cut gets no answer and
is never served; bad bytes before the half-close still get their 400 in turn; no traceback.
The first five tests fail on the code before (fewer answers than requests)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from pathlib import Path

import pytest

from tests.integration.test_pipelined_bad_bytes import (
    BAD,
    GIVE_UP_S,
    answers,
    clean,
    exchange,
    get,
    postback,
    projector_process,
    published,
)
from tests.support import read_topic, receiver_process

PROMPT_S = 8.0  # well under the receiver's default head deadline (its request timeout)


def _written(items: list[str], got: list[tuple[int, bytes]]) -> dict[str, dict[str, object]]:
    assert [status for status, _ in got] == [200] * len(items), got
    return {item: json.loads(body) for item, (_, body) in zip(items, got, strict=True)}


@pytest.mark.parametrize("pause_s", [0.0, 0.05])
async def test_pipelined_postbacks_then_a_half_close_are_all_answered(
    kafka_bootstrap: str, tmp_path: Path, pause_s: float
) -> None:
    """pause_s 0: the half-close arrives with the requests; 0.05: while the first is served."""
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        items = [f"half-{n}" for n in range(5)]
        raw, took_s = exchange(
            receiver.port,
            postback(items[0]),
            b"".join(postback(i) for i in items[1:]),
            pause_s=pause_s,
            half_close=True,
        )
        written = _written(items, answers(raw))
        assert took_s < PROMPT_S
        await published(kafka_bootstrap, receiver.topics.product, written)
    clean(log)


async def test_one_postback_then_a_half_close_is_answered(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        for n in range(5):
            raw, took_s = exchange(receiver.port, postback(f"one-{n}"), half_close=True)
            written = _written([f"one-{n}"], answers(raw))
            assert took_s < PROMPT_S
            await published(kafka_bootstrap, receiver.topics.product, written)
    clean(log)


async def test_a_postback_cut_by_the_half_close_is_never_served(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Two postbacks whole, then a third whose body the half-close cuts (and, on another
    connection, one whose head it cuts): the whole ones answered, the cut one neither answered
    nor written, the close prompt."""
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        items = ["whole-0", "whole-1"]
        for cut in (postback("cut-body")[:-5], postback("cut-head")[:40]):
            raw, took_s = exchange(
                receiver.port, b"".join(postback(i) for i in items) + cut, half_close=True
            )
            written = _written(items, answers(raw))
            assert took_s < PROMPT_S
            await published(kafka_bootstrap, receiver.topics.product, written)
        keys = {r.key for r in await read_topic(kafka_bootstrap, receiver.topics.product)}
        assert keys == {b"77:whole-0", b"77:whole-1"}
    clean(log)


async def test_bad_bytes_then_a_half_close_get_the_400_after_the_answers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        items = [f"bad-{n}" for n in range(3)]
        raw, took_s = exchange(
            receiver.port, b"".join(postback(i) for i in items) + BAD, half_close=True
        )
        got = answers(raw)
        assert [status for status, _ in got] == [200, 200, 200, 400], raw
        assert took_s < GIVE_UP_S
        await published(kafka_bootstrap, receiver.topics.product, _written(items, got[:3]))
    clean(log)


async def test_the_projector_answers_pipelined_reads_before_a_half_close(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "projector.log"
    async with projector_process(kafka_bootstrap, tmp_path, log) as port:
        reads = get("/v1/catalogs") + get("/v1/catalogs/77/items/none") + get("/readyz")
        for pause_s in (0.0, 0.02):
            raw, took_s = exchange(port, get("/healthz"), reads, pause_s=pause_s, half_close=True)
            assert [status for status, _ in answers(raw)] == [200, 200, 404, 200], raw
            assert took_s < PROMPT_S
    clean(log)


async def test_a_client_gone_after_pipelined_postbacks_leaves_no_traceback(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Closed whole right after sending (the server sees the same end-of-file as a half-close,
    then its answers meet a reset): nothing logged as an error, the receiver still serves, and
    every postback it wrote is whole on the topic. Holds on the code before too."""
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        for n in range(5):
            with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as client:
                if n % 2:  # and with a reset rather than a close
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.sendall(b"".join(postback(f"gone-{n}-{k}") for k in range(3)))
        await asyncio.sleep(1.0)  # the receiver had time to serve and write what it would
        closing = postback("after").replace(b"Host: receiver\r\n", b"Connection: close\r\n")
        raw, _ = exchange(receiver.port, closing)
        written = _written(["after"], answers(raw))
        await published(kafka_bootstrap, receiver.topics.product, written)
        for record in await read_topic(kafka_bootstrap, receiver.topics.product):
            assert record.key.startswith(b"77:"), record
    clean(log)


async def test_a_change_stream_ends_at_its_clients_end_of_file(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A stream never ends by itself: once its answer is being sent, the client's end-of-file
    ends it at once, as before (its slot is not held until a keep-alive write fails, 15 s)."""
    log = tmp_path / "projector.log"
    async with projector_process(kafka_bootstrap, tmp_path, log) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S) as client:
            client.sendall(get("/v1/changes/stream"))
            received = b""
            while b"\r\n\r\n" not in received:
                received += client.recv(65536)
            assert received.startswith(b"HTTP/1.1 200"), received
            client.shutdown(socket.SHUT_WR)
            client.settimeout(0.5)
            deadline, closed = time.monotonic() + 5, False
            while not closed and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    closed = not client.recv(65536)
            assert closed, "the stream went on after its client's end"
    clean(log)


async def test_many_pipelined_postbacks_then_a_half_close(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """More than one read's worth (the end-of-file is seen only once every byte before it was
    read, the reading paused and resumed between answers): every one answered, on the topic."""
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        items = [f"many-{n}" for n in range(300)]
        raw, took_s = exchange(receiver.port, b"".join(postback(i) for i in items), half_close=True)
        written = _written(items, answers(raw))
        assert took_s < GIVE_UP_S
        await published(kafka_bootstrap, receiver.topics.product, written)
    clean(log)
