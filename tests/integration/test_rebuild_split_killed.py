"""A rebuild loading in parts (rebuild_split.py) whose worker, or whose projector, is SIGKILLed
half-way: no worker outlives the projector, no part file is left (at once for a worker's death,
after the restart for the projector's), and the active generation serves as it was and keeps
following the topic."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from catalog_stream.ports import free_port
from projector.generations import SqliteGenerations
from tests.integration import test_rebuild_killed as killed
from tests.integration.test_rebuild_killed import EVENTS, _events, _is, _views
from tests.support import (
    ADMIN,
    Topics,
    alive,
    eventually,
    produce_events,
    signal_all,
    split_workers,
    split_workers_paused,
)

# Three times the one-process test's topic: the load is paused as soon as both workers run, and
# then goes on in steps, so some records are in and fewer than half in the first few steps.
SPLIT_EVENTS = 3 * EVENTS


def _generation_files(directory: Path) -> list[str]:
    """Every file but the first generation's: a rebuild's new generation and its parts."""
    return sorted(p.name for p in directory.glob("views.*.db*"))


async def _some_in(client: httpx.AsyncClient, workers: list[int], of: int) -> None:
    """Let the paused workers load in short steps until some records are in, fewer than half
    (a worker killed then surely had more to load)."""
    deadline = time.monotonic() + 60
    while True:
        signal_all(workers, signal.SIGCONT)
        await asyncio.sleep(0.02)
        signal_all(workers, signal.SIGSTOP)
        await asyncio.sleep(0.3)  # the projector reads the parts' progress every 0.2 s
        status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
        assert status["state"] == "running", status
        if status["applied"] > 0:
            assert status["applied"] < of // 2, status
            return
        assert time.monotonic() < deadline, status


@contextmanager
def projector(bootstrap: str, topics: Topics, db: Path, port: int, log: Path) -> Iterator[Any]:
    """The projector as a process of its own, rebuilding in two parts, in small batches (the
    load takes long enough to be caught half-way)."""
    with killed.projector(
        bootstrap, topics, db, port, log,
        CATALOG_PROJECTOR_REBUILD_WORKERS="2", CATALOG_PROJECTOR_BATCH_MAX_RECORDS="10",
    ) as process:  # fmt: skip
        yield process


async def _rebuilding_in_parts(
    client: httpx.AsyncClient, db: Path, written: int, parent: int
) -> tuple[dict[str, Any], str, list[int]]:
    """Once the projector's views hold `written` records, start a rebuild and wait until its
    parts are loading: the views then, the active generation's name, the workers (paused:
    the caller continues them)."""
    await eventually(lambda: _is(client, written), timeout_s=180, every_s=0.2)
    before = _views(db)
    active = SqliteGenerations(db).open_active().path.name
    assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
    workers = await split_workers_paused(parent)
    status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
    assert status["state"] == "running", status
    assert status["applied"] < written, status
    await _some_in(client, workers, written)
    return before, active, workers


async def test_a_worker_killed_half_way_fails_the_rebuild_and_leaves_nothing(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    written = await produce_events(kafka_bootstrap, topics.product, _events(0, SPLIT_EVENTS))
    with projector(kafka_bootstrap, topics, db, port, log) as process:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            before, active, workers = await _rebuilding_in_parts(client, db, written, process.pid)
            assert _generation_files(tmp_path)  # the new generation and its parts
            os.kill(workers[0], signal.SIGKILL)
            signal_all(workers[1:], signal.SIGCONT)

            async def failed() -> bool:
                status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
                assert status["state"] in ("running", "failed"), status
                return bool(status["state"] == "failed")

            await eventually(failed, timeout_s=30)
            await eventually(lambda: not split_workers(process.pid), timeout_s=10)  # the other too
            # The new generation is deleted just after the rebuild says it failed.
            await eventually(lambda: _generation_files(tmp_path) == [], timeout_s=10)
            assert SqliteGenerations(db).open_active().path.name == active
            assert _views(db) == before
            # The active generation still follows the topic.
            written += await produce_events(
                kafka_bootstrap, topics.product, _events(SPLIT_EVENTS, 50)
            )
            await eventually(lambda: _is(client, written), timeout_s=120, every_s=0.2)


async def test_the_projector_killed_half_way_leaves_no_worker_and_no_part(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    written = await produce_events(kafka_bootstrap, topics.product, _events(0, SPLIT_EVENTS))
    url = f"http://127.0.0.1:{port}"
    with projector(kafka_bootstrap, topics, db, port, log) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            before, active, workers = await _rebuilding_in_parts(client, db, written, process.pid)
            process.send_signal(signal.SIGKILL)
            process.wait()
            signal_all(workers, signal.SIGCONT)
    # They die with it: at once by the parent-death signal, or, paused before they asked for it,
    # at their own check of the parent once continued (rebuild_split_worker.die_with).
    await eventually(lambda: not any(map(alive, workers)), timeout_s=10)
    left = _generation_files(tmp_path)
    assert len([n for n in left if n.endswith(".db")]) == 3  # the new generation, two parts

    with projector(kafka_bootstrap, topics, db, port, log):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(lambda: _is(client, written), timeout_s=120, every_s=0.2)
            assert _generation_files(tmp_path) == []
            assert SqliteGenerations(db).open_active().path.name == active
            assert _views(db) == before
            written += await produce_events(
                kafka_bootstrap, topics.product, _events(SPLIT_EVENTS, 50)
            )
            await eventually(lambda: _is(client, written), timeout_s=120, every_s=0.2)
