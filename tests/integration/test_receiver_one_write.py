"""The receiver as `catalog-stream receiver` serves it (uvicorn with the server settings of
receiver.main, uvloop), through the real broker: a postback's 200, sent once Kafka acknowledged
the write, reaches the client in one TCP segment, on each request of a kept-alive connection."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from catalog_stream.broker import free_port
from receiver.app import PATH, create_app
from receiver.main import server_config
from tests.support import SECRET, make_topics, receiver_settings
from tests.tcp_segments import data_segments_in

pytestmark = pytest.mark.broker


def _postback(item: str) -> bytes:
    body = json.dumps({"CatalogId": "1", "CatalogItemId": item, "CurrentPrice": "1.00"}).encode()
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-Postback-Token: {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _answer(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_postbacks_200_arrives_in_one_segment(kafka_bootstrap: str) -> None:
    """Fails on the code before: 2 segments (uvicorn wrote the head and the body apart)."""
    topics = asyncio.run(make_topics(kafka_bootstrap))
    config = receiver_settings(kafka_bootstrap, topics, port=free_port())
    server = uvicorn.Server(server_config(config, create_app(config)))
    thread = threading.Thread(target=server.run, name="receiver", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert time.monotonic() < deadline, "receiver not ready"
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", config.port), timeout=30) as sock:
            for item in ("one-write-a", "one-write-b", "one-write-c"):
                before = data_segments_in(sock)
                sock.sendall(_postback(item))
                answer = _answer(sock)
                assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
                assert json.loads(answer.partition(b"\r\n\r\n")[2])["topic"] == topics.product
                assert data_segments_in(sock) - before == 1, answer
    finally:
        server.should_exit = True
        thread.join(30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False
