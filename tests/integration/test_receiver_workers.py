"""`catalog-stream receiver` with CATALOG_RECEIVER_WORKERS=2: two processes on one port, each on a
listening socket of its own, so the kernel spreads connections over both (uvicorn's `--workers`
let one worker take every connection of a burst); a SIGTERM stops both, answering what they
accepted, and a worker that dies stops the rest."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.harness import connections_per_process, tree

from catalog_stream.ports import free_port
from tests.support import AUTH, Topics, eventually, read_topic, receiver_env, serves_ready

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
CONNECTIONS = 24  # all on one of 2 workers by chance: 2 ** -23


@pytest.fixture
def workers(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = receiver_env(
        kafka_bootstrap,
        topics,
        port,
        CATALOG_RECEIVER_WORKERS="2",
        CATALOG_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "catalog_stream.cli", "receiver"]
    with (tmp_path / "receiver.log").open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        yield process, port
    finally:
        for pid in tree(process.pid)[::-1]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


async def _post_on_own_connections(url: str) -> tuple[list[int], list[httpx.AsyncClient]]:
    """One postback on each of CONNECTIONS keep-alive connections, all left open."""
    clients = [httpx.AsyncClient(base_url=url, timeout=20) for _ in range(CONNECTIONS)]
    answers = await asyncio.gather(
        *(
            client.post(PATH, json={"CatalogId": "7", "CatalogItemId": f"w{n}"}, headers=AUTH)
            for n, client in enumerate(clients)
        )
    )
    return [answer.status_code for answer in answers], clients


async def test_two_workers_share_the_connections_and_a_sigterm_stops_both(
    workers: tuple[subprocess.Popen[bytes], int], kafka_bootstrap: str, topics: Topics
) -> None:
    process, port = workers
    url = f"http://127.0.0.1:{port}"
    await eventually(lambda: serves_ready(url), timeout_s=120, every_s=0.5)
    pids = tree(process.pid)[1:]
    assert len(pids) == 2, pids  # two workers under the one process the operator started
    statuses, clients = await _post_on_own_connections(url)
    try:
        assert statuses == [200] * CONNECTIONS
        held = connections_per_process(pids, port)
        assert sum(held) == CONNECTIONS, held
        assert min(held) > 0, held
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    assert len(await read_topic(kafka_bootstrap, topics.product)) == CONNECTIONS

    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 60) == 0
    assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]  # noqa: ASYNC240


async def test_a_worker_that_dies_stops_the_others(
    workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = workers
    await eventually(lambda: serves_ready(f"http://127.0.0.1:{port}"), timeout_s=120, every_s=0.5)
    first, second = tree(process.pid)[1:]
    os.kill(first, signal.SIGKILL)
    assert await asyncio.to_thread(process.wait, 60) == 1
    assert not os.path.exists(f"/proc/{second}")  # noqa: ASYNC240
