"""Attacks on the refusal in turn (runtime_support.refusal_in_turn) with a real receiver process:
bad bytes inside a pipelined request's chunked body, inside the body of the request being
served, after many pipelined postbacks, after a request that asked to close, and a client gone
right after them. Each: no traceback in the log, every postback answered 200 on the topic, the
connection closed in bounded time."""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path
from typing import Any

from tests.integration.test_pipelined_bad_bytes import (
    BAD,
    GIVE_UP_S,
    PATH,
    answers,
    clean,
    exchange,
    postback,
    published,
)
from tests.support import SECRET, read_topic, receiver_process


def chunked_postback(item: str, chunks: bytes) -> bytes:
    """A postback whose body is sent chunked: `chunks` as given (may be broken)."""
    del item  # (the body never completes in these cases)
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
        f"X-Postback-Token: {SECRET}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return head.encode() + chunks


def _written(items: list[str], got: list[tuple[int, bytes]]) -> dict[str, dict[str, Any]]:
    return {
        i: json.loads(body) for i, (status, body) in zip(items, got, strict=False) if status == 200
    }


async def test_bad_chunks_in_a_pipelined_postback_refuse_it_in_its_turn(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        cut = chunked_postback("cut", b'5\r\n{"Cat\r\nzz\r\n')
        raw, took_s = exchange(receiver.port, postback("before-cut") + cut)
        got = answers(raw)
        assert [status for status, _ in got] == [200, 400], raw
        assert took_s < GIVE_UP_S
        await published(kafka_bootstrap, receiver.topics.product, _written(["before-cut"], got))
        keys = {r.key for r in await read_topic(kafka_bootstrap, receiver.topics.product)}
        assert keys == {b"77:before-cut"}
    clean(log)


async def test_bad_chunks_in_the_postback_being_served(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        cut = chunked_postback("cut", b'5\r\n{"Cat\r\n')
        raw, took_s = exchange(receiver.port, cut, b"zz\r\n", pause_s=0.05)
        assert [status for status, _ in answers(raw)] == [400], raw
        assert took_s < GIVE_UP_S
        assert await read_topic(kafka_bootstrap, receiver.topics.product) == []
    clean(log)


async def test_many_pipelined_postbacks_then_bad_bytes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        items = [f"many-{n}" for n in range(60)]
        raw, took_s = exchange(receiver.port, b"".join(postback(i) for i in items) + BAD)
        got = answers(raw)
        assert [status for status, _ in got] == [200] * len(items) + [400], raw[-500:]
        assert took_s < GIVE_UP_S
        await published(kafka_bootstrap, receiver.topics.product, _written(items, got))
    clean(log)


async def test_a_request_that_asks_to_close_then_bad_bytes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        closing = postback("closing").replace(b"Host: receiver\r\n", b"Connection: close\r\n")
        raw, took_s = exchange(receiver.port, closing + postback("after") + BAD)
        got = answers(raw)
        assert [status for status, _ in got] == [200], raw
        assert took_s < GIVE_UP_S
        await published(kafka_bootstrap, receiver.topics.product, _written(["closing"], got))
    clean(log)


async def test_a_client_gone_right_after_pipelined_postbacks_and_bad_bytes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        for n in range(5):
            with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as client:
                # SO_LINGER 0: the close resets the connection (no graceful end).
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.sendall(postback(f"gone-{n}-a") + postback(f"gone-{n}-b") + BAD)
        await read_topic(kafka_bootstrap, receiver.topics.product)  # the receiver had time
    clean(log)
