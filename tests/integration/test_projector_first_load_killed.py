"""A projector SIGKILLed, or stopped (SIGTERM, a deploy), during its first catch-up in parts
(first_load.py): while the parts load, /readyz says it is catching up and how far it has to go,
and the active views hold nothing of them; after the kill or the stop no worker outlives it, the
parts are kept, and the next start goes on with them, deletes them once merged, and gives exactly
the views one process catching up alone gives."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from catalog_stream.ports import free_port
from tests.integration import test_rebuild_killed as killed
from tests.integration.test_rebuild_killed import EVENTS, _events, _is, _views
from tests.integration.test_rebuild_split_killed import _generation_files
from tests.projector_harness import projector_in_process
from tests.support import (
    ADMIN,
    Topics,
    alive,
    eventually,
    produce_events,
    projector_settings,
    signal_all,
    split_workers,
    split_workers_paused,
    stop,
)

SPLIT_EVENTS = 3 * EVENTS
SETTINGS = {  # in parts, in small batches: the load takes long enough to be caught half-way
    "CATALOG_PROJECTOR_REBUILD_WORKERS": "2",
    "CATALOG_PROJECTOR_BATCH_MAX_RECORDS": "10",
    "CATALOG_PROJECTOR_FIRST_LOAD_MIN_RECORDS": "100",
    # (test_rebuild_killed's projector is ready at any lag below a million: /readyz honours it
    # during the load too, and the views then lack all 9,000 records)
    "CATALOG_PROJECTOR_READY_MAX_LAG": "1000",
}


async def _catching_up(client: httpx.AsyncClient) -> int:
    """/readyz while the parts load: 503, catching up; the records still to load."""
    answer = await client.get("/readyz")
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["status"] == "catching up", body
    return int(body["lag"])


async def _some_in(client: httpx.AsyncClient, workers: list[int], of: int) -> None:
    """Let the paused workers load in short steps until some records are in, fewer than half."""
    deadline = time.monotonic() + 60
    while True:
        signal_all(workers, signal.SIGCONT)
        await asyncio.sleep(0.02)
        signal_all(workers, signal.SIGSTOP)
        await asyncio.sleep(0.3)  # the projector reads the parts' progress every 0.2 s
        lag = await _catching_up(client)
        if lag < of:
            assert lag > of // 2, lag
            return
        assert time.monotonic() < deadline, lag


async def _one_process(bootstrap: str, topics: Topics, db: Path, written: int) -> object:
    """The views one process catching up alone gives (no parts: one worker)."""
    settings = projector_settings(bootstrap, topics, db, rebuild_workers=1)
    async with projector_in_process(settings) as (runtime, _):

        async def done() -> bool:
            return sum(runtime.store.positions(topics.product).values()) == written

        await eventually(done, timeout_s=180, every_s=0.2)
    return _views(db)


@pytest.mark.parametrize("sent", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
async def test_a_first_catch_up_ended_half_way_gives_the_same_views_after_a_restart(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, sent: signal.Signals
) -> None:
    """Before 11cfd48 a stop deleted the parts: the next start loaded everything again."""
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    written = await produce_events(kafka_bootstrap, topics.product, _events(0, SPLIT_EVENTS))
    url = f"http://127.0.0.1:{port}"
    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            workers = await split_workers_paused(process.pid)
            assert written // 2 < await _catching_up(client) <= written
            await _some_in(client, workers, written)
            assert _views(db)["offsets"] == []  # nothing of the parts in the active views
            assert (await client.get("/healthz")).status_code == 200  # loading, not failing
            # a rebuild would build against views the merge is about to fill: not now
            assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 409
            if sent == signal.SIGKILL:
                process.send_signal(signal.SIGKILL)
                process.wait()
                signal_all(workers, signal.SIGCONT)
            else:
                stop(process)  # the workers still paused: the stop ends them
                assert process.returncode not in (None, -signal.SIGKILL)  # ended by itself
    await eventually(lambda: not any(map(alive, workers)), timeout_s=10)
    left = [n for n in _generation_files(tmp_path) if n.endswith(".db")]
    assert len(left) == 2, left  # the two parts
    assert _views(db)["offsets"] == []

    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(lambda: _is(client, written), timeout_s=180, every_s=0.2)
            assert not set(_generation_files(tmp_path)) & set(left)
            after = _views(db)
    assert "first catch-up loaded in parts" in log.read_text()
    assert after == await _one_process(kafka_bootstrap, topics, tmp_path / "one.db", written)


async def test_a_worker_killed_during_the_first_catch_up_leaves_it_to_one_process(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    written = await produce_events(kafka_bootstrap, topics.product, _events(0, SPLIT_EVENTS))
    url = f"http://127.0.0.1:{port}"
    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            workers = await split_workers_paused(process.pid)
            await _some_in(client, workers, written)
            os.kill(workers[0], signal.SIGKILL)
            signal_all(workers[1:], signal.SIGCONT)
            # The load fails: the other worker is killed, the parts deleted, nothing merged,
            # and the live consumer catches up alone from the views that applied nothing.
            await eventually(lambda: _is(client, written), timeout_s=180, every_s=0.2)
            assert not split_workers(process.pid)
            assert [n for n in _generation_files(tmp_path) if n.endswith(".db")] == []
            after = _views(db)
    assert "the first catch-up in parts failed" in log.read_text()
    assert after == await _one_process(kafka_bootstrap, topics, tmp_path / "one.db", written)
