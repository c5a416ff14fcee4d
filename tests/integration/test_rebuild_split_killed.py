"""A rebuild loading in parts (rebuild_split.py) whose worker, or whose projector, is SIGKILLed
half-way: no worker outlives the projector, no part file is left (at once for a worker's death,
after the restart for the projector's), and the active generation serves as it was and keeps
following the topic."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from catalog_stream.broker import free_port
from projector.generations import SqliteGenerations
from tests.integration import test_rebuild_killed as killed
from tests.integration.test_rebuild_killed import EVENTS, _events, _is, _views
from tests.support import (
    ADMIN,
    Topics,
    eventually,
    produce_events,
)

WORKER = "projector.rebuild_split_worker"

# Three times the one-process test's topic: the load then lasts long enough to be caught
# half-way on a fast machine (with EVENTS, CI of c109fe9 and d96aa73 found the rebuild done).
SPLIT_EVENTS = 3 * EVENTS


def _workers(parent: int) -> list[int]:
    """The split rebuild's worker processes `parent` started, alive."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if WORKER.encode() in cmdline and ppid == parent and _alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie that nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _generation_files(directory: Path) -> list[str]:
    """Every file but the first generation's: a rebuild's new generation and its parts."""
    return sorted(p.name for p in directory.glob("views.*.db*"))


async def _half_way(client: httpx.AsyncClient, of: int, parent: int, some_in: bool) -> bool:
    """The parts are loading: both workers run, and not every record is in; `some_in`: some
    records are in, fewer than half (a worker killed then surely had more to load). The test
    killing the projector asks no more than both workers running: on a fast machine the whole
    load fell between two looks, each an HTTP round trip and a walk of /proc, and the rebuild
    was done (CI of c109fe9); killed as soon as both workers run, it proves the same: no worker
    and no part outlive the projector."""
    status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
    assert status["state"] == "running", status  # else this test caught nothing
    if some_in:
        return len(_workers(parent)) == 2 and 0 < status["applied"] < of // 2
    return len(_workers(parent)) == 2 and status["applied"] < of


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
    client: httpx.AsyncClient, db: Path, written: int, parent: int, some_in: bool
) -> tuple[dict[str, Any], str, list[int]]:
    """Once the projector's views hold `written` records, start a rebuild and wait until its
    parts are loading: the views then, the active generation's name, the workers."""
    await eventually(lambda: _is(client, written), timeout_s=180, every_s=0.2)
    before = _views(db)
    active = SqliteGenerations(db).open_active().path.name
    assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
    await eventually(
        lambda: _half_way(client, written, parent, some_in), timeout_s=120, every_s=0.05
    )
    return before, active, _workers(parent)


async def test_a_worker_killed_half_way_fails_the_rebuild_and_leaves_nothing(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    written = await produce_events(kafka_bootstrap, topics.product, _events(0, SPLIT_EVENTS))
    with projector(kafka_bootstrap, topics, db, port, log) as process:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            before, active, workers = await _rebuilding_in_parts(
                client, db, written, process.pid, True
            )
            assert _generation_files(tmp_path)  # the new generation and its parts
            os.kill(workers[0], signal.SIGKILL)

            async def failed() -> bool:
                status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
                assert status["state"] in ("running", "failed"), status
                return bool(status["state"] == "failed")

            await eventually(failed, timeout_s=30)
            await eventually(lambda: not _workers(process.pid), timeout_s=10)  # the other too
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
            before, active, workers = await _rebuilding_in_parts(
                client, db, written, process.pid, False
            )
            process.send_signal(signal.SIGKILL)
            process.wait()
    await eventually(lambda: not any(map(_alive, workers)), timeout_s=1)  # died with it
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
