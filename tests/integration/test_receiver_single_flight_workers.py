"""The single flight with CATALOG_RECEIVER_WORKERS=2 (`catalog-stream receiver`): each worker
keeps its own in-flight table and window, so identical postbacks spread over both are written at
most once by each; every one is answered 200 with a worker's answer. (Passes on the old code.)"""

from __future__ import annotations

import asyncio
import subprocess

import httpx
import pytest

from tests.integration.test_receiver_workers import workers  # noqa: F401
from tests.support import AUTH, Topics, eventually, read_topic, serves_ready

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
POINTS = {"CatalogId": "9", "CatalogItemId": "lamp-2", "CurrentPrice": "49.90"}
CONNECTIONS = 24


async def test_identical_postbacks_over_two_workers_are_at_most_one_record_each(
    workers: tuple[subprocess.Popen[bytes], int],  # noqa: F811
    kafka_bootstrap: str,
    topics: Topics,
) -> None:
    _, port = workers
    url = f"http://127.0.0.1:{port}"
    await eventually(lambda: serves_ready(url), timeout_s=120, every_s=0.5)
    clients = [httpx.AsyncClient(base_url=url, timeout=20) for _ in range(CONNECTIONS)]
    try:
        answers = await asyncio.gather(
            *(client.post(PATH, json=POINTS, headers=AUTH) for client in clients for _ in range(3))
        )
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    assert [a.status_code for a in answers] == [200] * (3 * CONNECTIONS)
    records = await read_topic(kafka_bootstrap, topics.product)
    assert 1 <= len(records) <= 2  # (2 when both workers took some: the usual case)
    assert len({a.content for a in answers}) == len(records)
    assert {a.json()["event_id"] for a in answers} == {answers[0].json()["event_id"]}
