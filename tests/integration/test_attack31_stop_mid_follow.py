"""Attack on the generation follow (generation_follower.py) with a stop at its last step: on a
real PostgreSQL and broker, another instance switches the views, this instance's follow opens
the new generation and makes its tables there (`fresh.create`, in a thread), and the projector
stops meanwhile. The stop cancels the follow; the thread goes on. Expected after the stop: no
connection of this process left open on any generation (every store it opened is closed), no
live consumer, nothing registered as used, and no generation made again after another instance
dropped it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import (
    caught_up,
    eventually,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
)

ITEMS = 3


async def test_a_stop_during_a_follows_create_leaves_no_store_open(
    kafka_bootstrap: str, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.create_database("attack31_stop_mid_follow")
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    other = PostgresGenerations(url)  # another instance, switching
    creating = threading.Event()
    release = threading.Event()
    opened: list[PostgresStore] = []
    names: list[str] = []  # the generation the other instance switches to
    create = PostgresStore.create

    def held_create(self: PostgresStore, indexes: bool = True) -> None:
        create(self, indexes)
        if self.name in names and threading.current_thread() is not threading.main_thread():
            opened.append(self)
            creating.set()
            release.wait(30)

    monkeypatch.setattr(PostgresStore, "create", held_create)
    try:
        async with projector_in_process(settings, PostgresGenerations(url)) as (runtime, client):
            await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
            await caught_up(client, ITEMS, timeout_s=60)
            elsewhere = other.open_new()
            await asyncio.to_thread(elsewhere.create)
            elsewhere.close()
            names.append(elsewhere.name)
            await asyncio.to_thread(other.activate, elsewhere)
            await eventually(creating.is_set, timeout_s=30)  # the follow makes its tables
            # the stop comes now (leaving the context)
        release.set()
        await asyncio.sleep(0.5)  # (the follow's thread ends)
        assert runtime.store.name != elsewhere.name  # never followed: stopped first
        assert runtime._live is None
        (fresh,) = opened
        # (before/now: the follow's store keeps its connection: never closed)
        assert [c.closed for c in fresh._opened] == [True] * len(fresh._opened)
    finally:
        release.set()
        for store in opened:
            store.close()
