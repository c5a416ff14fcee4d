"""attack32 on the half-close (runtime_support.refusal_in_turn), against a real receiver process
(uvloop, as it runs) with real sockets; every 200 is checked against the topic. Held on
edges31: what was tried, and that it held.

- many connections at once, each pipelining postbacks then half-closing (some cut mid-body,
  mid-chunked-body, mid-head), others resetting: every whole postback answered 200 and on the
  topic, no cut one written, no traceback, and the receiver's open descriptors back to where
  they were (no connection kept for a client gone);
- a slow body (trickled a few bytes at a time) whole, then the half-close: answered;
- a chunked body cut at its last chunk's end (the terminating chunk never sent): not served."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import time
from pathlib import Path

from tests.integration.test_pipelined_bad_bytes import (
    GIVE_UP_S,
    PATH,
    answers,
    clean,
    exchange,
    postback,
    published,
)
from tests.support import SECRET, eventually, read_topic, receiver_process

CONNECTIONS = 60  # each a thread of its own here; the receiver's default limits hold these


def _chunked(item: str, cut: bool) -> bytes:
    body = json.dumps(
        {"CatalogId": "77", "CatalogItemId": item, "CurrentPrice": "1.50", "Currency": "EUR"}
    ).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
        f"X-Postback-Token: {SECRET}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    return head + chunks + (b"" if cut else b"0\r\n\r\n")


def _open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _client(port: int, n: int) -> tuple[list[str], bytes]:
    """One hostile client: the items it sent whole, and what it read back."""
    whole = [f"many-{n}-{k}" for k in range(3)]
    sent = b"".join(postback(item) for item in whole)
    kind = n % 5
    if kind == 1:
        sent += postback(f"cut-{n}")[:-3]  # mid-body
    elif kind == 2:
        sent += _chunked(f"cut-{n}", cut=True)  # the chunked body's end never comes
    elif kind == 3:
        sent += postback(f"cut-{n}")[:30]  # mid-head
    elif kind == 4:
        whole.append(f"chunked-{n}")
        sent += _chunked(f"chunked-{n}", cut=False)
    if n % 7 == 6:  # a reset instead: nothing read, nothing owed
        with socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.sendall(sent)
        return [], b""
    raw, _ = exchange(port, sent, half_close=True)
    return whole, raw


async def test_many_half_closed_connections_at_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        pid = receiver.process.pid
        before = _open_descriptors(pid)
        started = time.monotonic()
        results = await asyncio.gather(
            *(asyncio.to_thread(_client, receiver.port, n) for n in range(CONNECTIONS))
        )
        assert time.monotonic() - started < GIVE_UP_S
        written: dict[str, dict[str, object]] = {}
        for whole, raw in results:
            got = answers(raw)
            assert [status for status, _ in got] == [200] * len(whole), raw
            written.update(
                {item: json.loads(body) for item, (_, body) in zip(whole, got, strict=True)}
            )
        await published(kafka_bootstrap, receiver.topics.product, written)
        keys = {r.key for r in await read_topic(kafka_bootstrap, receiver.topics.product)}
        assert not [key for key in keys if key.startswith(b"77:cut-")], keys
        # The resets' postbacks may or may not have been written (no answer was owed); every
        # connection is gone once served: the descriptors come back (a broker connection or two
        # may have been opened meanwhile; sixty clients kept would be sixty).
        await eventually(lambda: _open_descriptors(pid) <= before + 3, timeout_s=20)
    clean(log)


def _slowly(port: int, sent: bytes) -> bytes:
    """`sent` 16 bytes at a time, 10 ms apart, then the half-close: what was read back."""
    with socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S) as client:
        for start in range(0, len(sent), 16):
            client.sendall(sent[start : start + 16])
            time.sleep(0.01)
        client.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := client.recv(65536):
            raw += chunk
    return raw


async def test_a_slow_body_then_a_half_close_is_answered(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        raw = await asyncio.to_thread(_slowly, receiver.port, postback("slow"))
        got = answers(raw)
        assert [status for status, _ in got] == [200], raw
        await published(kafka_bootstrap, receiver.topics.product, {"slow": json.loads(got[0][1])})
    clean(log)


def _large(item: str) -> bytes:
    """A postback of ~200 KB: its body alone pauses the reading (uvicorn's 64 KiB mark)."""
    body = json.dumps(
        {"CatalogId": "77", "CatalogItemId": item, "CurrentPrice": "1.50", "Currency": "EUR",
         "Description": "d" * 200_000}
    ).encode()  # fmt: skip
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
        f"X-Postback-Token: {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def test_large_bodies_pipelined_then_a_half_close(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The end-of-file is read only once the reading, paused by each large body, resumes."""
    log = tmp_path / "receiver.log"
    async with receiver_process(kafka_bootstrap, log) as receiver:
        items = ["large-0", "small-1", "large-2", "small-3"]
        sent = b"".join(_large(i) if i.startswith("large") else postback(i) for i in items)
        raw, took_s = exchange(receiver.port, sent + _large("cut")[:-10], half_close=True)
        got = answers(raw)
        assert [status for status, _ in got] == [200] * len(items), raw[:2000]
        assert took_s < GIVE_UP_S
        written = {item: json.loads(body) for item, (_, body) in zip(items, got, strict=True)}
        await published(kafka_bootstrap, receiver.topics.product, written)
        keys = {r.key for r in await read_topic(kafka_bootstrap, receiver.topics.product)}
        assert b"77:cut" not in keys
    clean(log)
