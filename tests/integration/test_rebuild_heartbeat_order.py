"""On a real PostgreSQL (no broker): an instance's heartbeats (the watch's every second, a
rebuild's, the start's) each say which generations it uses, and each runs on a worker thread.
If the thread of an older one reaches the registry after a newer one's, the older list must
not replace the newer (before: it did, until the next heartbeat; here a rebuild that ended
stayed registered as building)."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from projector.app import create_app
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres


async def test_an_older_heartbeat_reaching_the_registry_late_does_not_replace_a_newer(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.create_database("rebuild_heartbeat_order")
    generations = PostgresGenerations(url)
    runtime = create_app(ProjectorSettings(store_url=url), generations, False).state.runtime
    heartbeat = generations.heartbeat
    delayed: list[bool] = []

    def late_first(*args: object, **kwargs: object) -> str | None:
        if not delayed:  # the first one's thread is slow to reach the registry
            delayed.append(True)
            time.sleep(1)
        return heartbeat(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(generations, "heartbeat", late_first)
    building = generations.open_new()
    runtime.building = building  # a rebuild under way says so
    older = asyncio.create_task(runtime.follower.heartbeat())
    await asyncio.sleep(0.2)  # its list is taken, its thread waits
    runtime.building = None  # the rebuild ended
    await runtime.follower.heartbeat()
    await older
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT schema_name FROM public.catalog_stream_instances WHERE instance = %s",
            (generations.instance,),
        ).fetchall()
    assert {str(r[0]) for r in rows} == {runtime.store.name}
    runtime.store.close()
