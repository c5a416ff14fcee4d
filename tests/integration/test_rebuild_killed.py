"""A projector process SIGKILLed in the middle of a rebuild: after a restart it must serve the
generation that was active, with exactly the views it had, and keep it up to date; the
half-built generation is deleted; and the next rebuild completes with the same views."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from catalog_stream.ports import free_port
from projector.generations import SqliteGenerations
from tests.factories import change
from tests.support import (
    ADMIN,
    ADMIN_TOKEN,
    Topics,
    dump,
    eventually,
    produce_events,
    rebuilt,
    start_cli,
    stop,
)

EVENTS = 3000


@contextmanager
def projector(
    bootstrap: str, topics: Topics, db: Path, port: int, log: Path, **settings: str
) -> Iterator[Any]:
    """The projector as a process of its own; `settings`: environment variables added."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOG_PROJECTOR_PORT": str(port),
        "CATALOG_PROJECTOR_TOPIC": topics.product,
        "CATALOG_PROJECTOR_DEAD_LETTER_TOPIC": topics.projector_dead_letter,
        "CATALOG_PROJECTOR_GROUP_ID": "killed-rebuild",
        "CATALOG_PROJECTOR_STORE_URL": f"sqlite:///{db}",
        "CATALOG_PROJECTOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "CATALOG_PROJECTOR_READY_MAX_LAG": "1000000",
        # Small batches: the rebuild takes long enough to be caught half-way.
        "CATALOG_PROJECTOR_BATCH_MAX_RECORDS": "20",
        "CATALOG_PROJECTOR_SESSION_TIMEOUT_MS": "6000",
        **settings,
    }
    process = start_cli("projector", env, log)
    try:
        yield process
    finally:
        stop(process)


async def _applied(client: httpx.AsyncClient) -> int:
    try:
        response = await client.get("/v1/catalogs")
    except httpx.TransportError:
        return -1
    positions = response.headers.get("X-View-Positions", "")
    return sum(int(p.split(":")[1]) for p in positions.split(",") if p)


def _views(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    store = SqliteGenerations(db).open_active()
    try:
        return dump(store)
    finally:
        store.close()


def _generation_files(directory: Path) -> list[str]:
    """The files of generations other than the first (`views.<time>.db` and its -wal, -shm)."""
    return [p.name for p in directory.glob("views.*.db*")]


def _events(start: int, count: int) -> list[Any]:
    return [change(f"item-{n % 400}", price=f"{n % 97 + 1}.00", minute=n) for n in
            range(start, start + count)]  # fmt: skip


async def test_a_rebuild_killed_half_way_leaves_the_active_views_as_they_were(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    db = tmp_path / "views.db"
    port = free_port()
    log = tmp_path / "projector.log"
    written = await produce_events(kafka_bootstrap, topics.product, _events(0, EVENTS))
    url = f"http://127.0.0.1:{port}"
    with projector(kafka_bootstrap, topics, db, port, log) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(lambda: _is(client, written), timeout_s=180, every_s=0.2)
            before = _views(db)
            active = SqliteGenerations(db).open_active().path.name
            assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202

            async def half_way() -> bool:
                status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
                assert status["state"] == "running", status  # else this test caught nothing
                return bool(status["applied"] >= written // 4)

            await eventually(half_way, timeout_s=120, every_s=0.05)
            process.send_signal(signal.SIGKILL)
            process.wait()
    half_built = _generation_files(tmp_path)
    assert half_built, "the rebuild's generation should exist when it is killed"

    with projector(kafka_bootstrap, topics, db, port, log):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(lambda: _is(client, written), timeout_s=120, every_s=0.2)
            assert SqliteGenerations(db).open_active().path.name == active
            assert _views(db) == before
            assert not set(_generation_files(tmp_path)) & set(half_built)
            # The active generation still follows the topic ...
            written += await produce_events(kafka_bootstrap, topics.product, _events(EVENTS, 50))
            await eventually(lambda: _is(client, written), timeout_s=120, every_s=0.2)
            updated = _views(db)
            assert updated["offsets"] != before["offsets"]
            # ... and the next rebuild completes, with the same views.
            await rebuilt(client, timeout_s=240, every_s=0.2)
            assert SqliteGenerations(db).open_active().path.name != active
            assert _views(db) == updated


async def _is(client: httpx.AsyncClient, written: int) -> bool:
    applied = await _applied(client)
    if applied > written:
        raise AssertionError(f"applied {applied} of {written} records")
    await asyncio.sleep(0)
    return applied == written
