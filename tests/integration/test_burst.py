"""A burst of concurrent postbacks against the real server process: every 200 is one record."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from catalog_stream.broker import free_port
from tests.support import AUTH, Topics, eventually, read_topic

pytestmark = pytest.mark.broker
BURST = 5000
CONCURRENCY = 200


@pytest.fixture
def receiver_process(kafka_bootstrap: str, topics: Topics) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CATALOG_RECEIVER_PORT": str(port),
        "CATALOG_RECEIVER_TOPIC": topics.product,
        "CATALOG_RECEIVER_DEAD_LETTER_TOPIC": topics.dead_letter,
        "CATALOG_RECEIVER_SECRETS": f'["{AUTH["X-Postback-Token"]}"]',
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "catalog_stream.cli", "receiver"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()  # graceful: flushes what is in flight
        # uvicorn re-raises the signal once it has shut down cleanly
        assert process.wait(30) in (0, -signal.SIGTERM)


async def test_every_200_of_a_burst_is_exactly_one_record(
    receiver_process: str, kafka_bootstrap: str, topics: Topics
) -> None:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=receiver_process, limits=limits, timeout=60) as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, timeout_s=30)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def post(n: int) -> httpx.Response:
            body = {
                "CatalogId": str(n % 7),
                "CatalogItemId": f"item-{n}",
                "CurrentPrice": f"{n}.99",
            }
            async with gate:
                return await client.post("/v1/postbacks/product-changes", json=body, headers=AUTH)

        answers = await asyncio.gather(*(post(n) for n in range(BURST)))
    accepted = [a.json() for a in answers if a.status_code == 200]
    assert {a.status_code for a in answers} <= {200, 503}
    assert len(accepted) >= BURST * 0.99  # a 503 would be fine (the platform retries), a loss not
    records = await read_topic(kafka_bootstrap, topics.product, timeout_s=60)
    on_topic = {(r.partition, r.offset) for r in records}
    acknowledged = {(a["partition"], a["offset"]) for a in accepted}
    assert len(acknowledged) == len(accepted)  # no two answers name the same record
    assert on_topic == acknowledged  # and every record is one that was answered 200
