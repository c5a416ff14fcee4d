"""Through the real broker and a real PostgreSQL: under the pointer row, once its builder has
reached the live positions, the switch stops the builder and waits for it. That wait had no
bound: a builder stuck in a batch (here a write into the new generation that waits for a lock
someone else holds there; a database that stops answering its connection would do the same)
kept the row, and with it every instance's live batches, for as long as it stayed stuck. Now
the switch waits as long as for the builder to reach the positions, then fails: the row is
released, the pointer as it was, and the active generation goes on being updated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from projector import rebuild_switch
from projector.generations_postgres import PostgresGenerations
from tests.support import ADMIN, SharePostgres, active_generation, eventually, shows_wave

pytestmark = pytest.mark.broker
ITEMS = 10
REACH_S = 5.0  # how long the switch waits for the builder (60 s by default)


def _waiting_for(url: str, table: str) -> int:
    """How many sessions wait for a lock on `table` (a qualified, quoted name)."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass", (table,)
        ).fetchone()
    return int(row[0]) if row else 0


async def test_a_builder_stuck_when_the_switch_stops_it_does_not_hold_the_pointer_for_ever(
    share_postgres: SharePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    monkeypatch.setattr(rebuild_switch, "REACH_TIMEOUT_S", REACH_S)
    loop = asyncio.get_running_loop()
    holding = PostgresGenerations.holding_pointer
    blocker = psycopg.connect(url)  # holds a lock the builder's next write waits for
    stuck: list[str] = []

    @contextmanager
    def watched(generations: PostgresGenerations) -> Iterator[str]:
        # The builder has reached the live positions; the live consumer has stopped, so the
        # wave written now is read by the builder alone, and its write of it waits.
        building = runtime.building
        assert building is not None
        assert not stuck  # once
        stuck.append(building.name)
        items = f'"{building.name}".items'
        blocker.execute(f"LOCK TABLE {items} IN ACCESS EXCLUSIVE MODE")
        asyncio.run_coroutine_threadsafe(shared.wave(2, ITEMS), loop).result(30)
        deadline = time.monotonic() + 60
        while _waiting_for(url, items) == 0:
            assert time.monotonic() < deadline, "the builder's write never waited"
            time.sleep(0.1)  # (a worker thread: the loop goes on)
        with holding(generations) as active:
            yield active

    monkeypatch.setattr(PostgresGenerations, "holding_pointer", watched)
    try:
        async with shared.instances() as [(runtime, client)]:
            old = runtime.store.name
            assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
            try:
                await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=60)
            finally:
                blocker.rollback()  # the builder's write goes through: it stops
            assert stuck, "the switch never took the pointer"
            assert runtime.rebuild_status.state == "failed", runtime.rebuild_status
            assert "stop" in (runtime.rebuild_status.error or ""), runtime.rebuild_status
            assert active_generation(url) == old
            assert runtime.store.name == old
            await shows_wave(client, 2, ITEMS)  # applied by the live consumer, on the old views
    finally:
        blocker.close()
