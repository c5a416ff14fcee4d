"""Through the real broker and a real PostgreSQL: while a rebuild's switch holds the pointer row,
its builder must reach the positions the old generation holds (other instances applied records
between the builder's first wait and the row). Here it cannot: the new generation refuses its
batches from then on (a trigger, as a store that fails its writes would). Before, the switch
gave up waiting after 60 s and went ahead anyway, short of those positions: the live consumers
then applied those records to the new generation once more, and its feed, which had taken over
the old one, announced each of their changes a second time. Now the switch refuses: the pointer
is released as it was, the rebuild is reported failed, and the active generation goes on
serving and being updated, its feed every record's change once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest

from projector import rebuild_switch
from projector.generations_postgres import PostgresGenerations
from tests.stalled_builder import mend, stall, stall_the_first_builder
from tests.support import (
    ADMIN,
    SharePostgres,
    active_generation,
    eventually,
    shows_wave,
)

pytestmark = pytest.mark.broker
ITEMS = 20
REACH_S = 5.0  # how long the switch waits for the builder (60 s by default)


def _applied(url: str, schema: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            f'SELECT COALESCE(SUM(next_offset), 0) FROM "{schema}".offsets'  # noqa: S608
        ).fetchone()
    return int(row[0]) if row else 0


async def _feed(client: httpx.AsyncClient) -> list[tuple[int, int]]:
    """Every change the feed announces, as the position of the record that made it."""
    found: list[tuple[int, int]] = []
    after = 0
    while True:
        page = (await client.get("/v1/changes", params={"after": after, "limit": 1000})).json()
        found += [(c["partition"], c["offset"]) for c in page["changes"]]
        if not page["changes"]:
            return found
        after = page["next_after"]


async def test_a_switch_whose_builder_cannot_reach_the_live_positions_under_the_row_refuses(
    share_postgres: SharePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = await share_postgres(ITEMS, partitions=2)
    url = shared.url
    monkeypatch.setattr(rebuild_switch, "REACH_TIMEOUT_S", REACH_S)
    loop = asyncio.get_running_loop()
    holding = PostgresGenerations.holding_pointer
    stalled: list[str] = []

    @contextmanager
    def watched(generations: PostgresGenerations) -> Iterator[str]:
        # The builder has reached where the live consumers were (the switch's first wait); now
        # it takes no more batches, and the other instance applies a wave to the old generation
        # before the switch takes the row (on a worker thread: the loop goes on meanwhile).
        building = switching.building
        assert building is not None
        assert not stalled  # once
        stalled.append(building.name)
        stall(url, building.name)
        asyncio.run_coroutine_threadsafe(shared.wave(2, ITEMS), loop).result(30)
        deadline = loop.time() + 60
        while _applied(url, old) < 2 * ITEMS:  # (its live consumer stopped: the other one's)
            assert loop.time() < deadline, "the other instance did not apply the wave"
            time.sleep(0.1)  # (a worker thread: the loop goes on)
        with holding(generations) as active:
            yield active

    monkeypatch.setattr(PostgresGenerations, "holding_pointer", watched)
    both = [shared.generations(), shared.generations()]
    async with shared.instances(both) as [(switching, client), (other, _)]:
        old = switching.store.name
        before = await _feed(client)
        assert sorted(before) == sorted(set(before))
        assert len(before) == ITEMS
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        await eventually(lambda: switching.rebuild_status.state != "running", timeout_s=180)
        mend(url)  # the builder's store works again
        assert stalled, "the switch never took the pointer"
        # Both instances go on: a third wave is served, and the feed announces each record's
        # change once (before: the second wave's changes twice, under the new generation).
        await shared.wave(3, ITEMS)
        await shows_wave(client, 3, ITEMS)
        feed = await _feed(client)
        repeated: dict[tuple[int, int], Any] = {p: feed.count(p) for p in feed if feed.count(p) > 1}
        assert not repeated, f"{len(repeated)} changes announced twice"
        assert len(feed) == 3 * ITEMS
        assert feed[: len(before)] == before
        # The switch refused: the pointer as it was, every instance on the old generation.
        assert switching.rebuild_status.state == "failed", switching.rebuild_status
        assert "reach" in (switching.rebuild_status.error or ""), switching.rebuild_status
        assert active_generation(url) == old
        assert (switching.store.name, other.store.name) == (old, old)


async def test_a_builder_that_cannot_reach_the_live_positions_fails_before_the_row_is_held(
    share_postgres: SharePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first wait, before the row: a builder that takes no batch at all (let switch at once)
    fails the rebuild there, and no instance's views are frozen for it. Before, the switch held
    the row for another 60 s after that wait's 60 s, then switched to the empty generation."""
    shared = await share_postgres(ITEMS)
    url = shared.url
    monkeypatch.setattr(rebuild_switch, "REACH_TIMEOUT_S", REACH_S)
    holding = PostgresGenerations.holding_pointer
    held: list[str] = []

    @contextmanager
    def watched(generations: PostgresGenerations) -> Iterator[str]:
        with holding(generations) as active:
            held.append(active)
            yield active

    monkeypatch.setattr(PostgresGenerations, "holding_pointer", watched)
    async with shared.instances() as [(runtime, client)]:
        old = runtime.store.name
        stall_the_first_builder(url, monkeypatch)
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=180)
        mend(url)
        assert runtime.rebuild_status.state == "failed", runtime.rebuild_status
        assert "reach" in (runtime.rebuild_status.error or ""), runtime.rebuild_status
        assert held == []  # no instance's batches waited for this switch
        assert active_generation(url) == old
        await shared.wave(2, ITEMS)
        await shows_wave(client, 2, ITEMS)
        feed = await _feed(client)
        assert sorted(feed) == sorted(set(feed))
        assert len(feed) == 2 * ITEMS
