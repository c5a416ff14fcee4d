"""On a real PostgreSQL and broker: another instance's switch, met by this instance's watch at its
two race points, each held there through the generations object the projector is given (its
heartbeat, or its opening of the active generation, waits once armed): the same order of events
every time, not a sleep's chance.

- A heartbeat reads the pointer, then another instance's switch moves it, and this instance's
  live batch sees the move before the heartbeat answers. Before, the watch took that answer
  (naming this generation) for the pointer moved back, and started the live consumer again on
  the old generation, for a heartbeat, before it followed. Now it follows at once.
- A follow opens the generation the pointer names, and before this instance says it uses it,
  the instance that switched switches again and drops it (no instance said it in use: back-to-
  back rebuilds). Before, the follow made it again, empty, and served it. Now a follow says the
  generation in use before it uses it, then reads the pointer again: moved on, it opens the new
  one instead."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from projector.runtime import Runtime
from projector.store import ViewStore
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import (
    caught_up,
    eventually,
    generation_schemas,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    shows_wave,
)

ITEMS = 3


class HeldGenerations(PostgresGenerations):
    """Once `hold` is armed with "heartbeat" or "open_active", the next such call does its work
    (the pointer read), then waits until `release` is set before it answers."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.hold: str | None = None
        self.holding = threading.Event()
        self.release = threading.Event()

    def _wait_if_armed(self, call: str) -> None:
        if self.hold == call:
            self.hold = None
            self.holding.set()
            assert self.release.wait(60)

    def heartbeat(self, using: Iterable[str], said: int | None = None) -> str:
        active = super().heartbeat(using, said)
        self._wait_if_armed("heartbeat")
        return active

    def open_active(self) -> PostgresStore:
        store = super().open_active()
        self._wait_if_armed("open_active")
        return store


def _live_consumers_started(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The generations a live consumer is started on from now on (a follow's or a resume's)."""
    started: list[str] = []
    use = runtime.use

    def recorded(store: ViewStore, kept: dict[int, int]) -> None:
        started.append(store.name)
        use(store, kept)

    monkeypatch.setattr(runtime, "use", recorded)
    return started


async def test_a_move_seen_during_a_heartbeat_is_followed_not_resumed(
    kafka_bootstrap: str, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.create_database("watch_stale_pointer")
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    generations = HeldGenerations(url)
    async with projector_in_process(settings, generations) as (runtime, client):
        await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
        await caught_up(client, ITEMS, timeout_s=60)
        served = runtime.store.name
        other = PostgresGenerations(url)  # another instance, switching to a generation of its own
        elsewhere = other.open_new()
        await asyncio.to_thread(elsewhere.create)
        generations.hold = "heartbeat"
        await eventually(generations.holding.is_set, timeout_s=10)  # it read the pointer: served
        started = _live_consumers_started(runtime, monkeypatch)
        await asyncio.to_thread(other.activate, elsewhere)
        await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
        await eventually(lambda: runtime.projector.moved, timeout_s=30)  # its batch saw the move
        generations.release.set()
        await eventually(lambda: runtime.store.name == elsewhere.name, timeout_s=30)
        await caught_up(client, 2 * ITEMS, timeout_s=60)  # (the new generation, from the start)
        await shows_wave(client, 2, ITEMS, timeout_s=30)
        # (before: [served, elsewhere], a live consumer started again on the old generation)
        assert started == [elsewhere.name], served
        assert runtime.failure is None
    elsewhere.close()


async def test_a_follow_does_not_use_a_generation_dropped_before_it_said_so(
    kafka_bootstrap: str, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.create_database("follow_dropped")
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    generations = HeldGenerations(url)
    async with projector_in_process(settings, generations) as (runtime, client):
        await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
        await caught_up(client, ITEMS, timeout_s=60)
        other = PostgresGenerations(url)  # another instance, rebuilding twice in a row
        first, second = other.open_new(), other.open_new()
        await asyncio.to_thread(first.create)
        await asyncio.to_thread(second.create)
        started = _live_consumers_started(runtime, monkeypatch)
        generations.hold = "open_active"
        await asyncio.to_thread(other.activate, first)
        await eventually(generations.holding.is_set, timeout_s=10)  # the follow read: first
        await asyncio.to_thread(other.activate, second)
        # The other instance retires `first` as its switch does (GenerationFollower._discard):
        # no live instance says it uses it, so it is dropped.
        assert not await asyncio.to_thread(other.in_use_elsewhere, first.name)
        await asyncio.to_thread(other.discard, first)
        generations.release.set()
        await eventually(lambda: runtime.store.name == second.name, timeout_s=30)
        await caught_up(client, ITEMS, timeout_s=60)  # (the new generation, from the start)
        await shows_wave(client, 1, ITEMS, timeout_s=30)
        # (before: [first, second], and `first` made again, empty, and served meanwhile)
        assert started == [second.name]
        assert first.name not in generation_schemas(url)
        assert runtime.failure is None
    second.close()
