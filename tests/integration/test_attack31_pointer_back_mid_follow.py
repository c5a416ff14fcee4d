"""Attack on the follow's "say it in use, then read the pointer again" (generation_follower.py
_open_said) with the pointer moved back and forth, on a real PostgreSQL and broker: another
instance switches the views to `first`; this instance's follow reads the pointer (held there,
through the generations object), and the other instance moves the pointer back to the
generation this instance serves, then on to `first` again, then back. Expected: this instance
ends on the generation the pointer names, its live consumer writing there (a new wave shows),
no failure, and `first` is never made again after it was dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from projector.generations_postgres import PostgresGenerations
from tests.integration.test_generations_follow_races import HeldGenerations
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import (
    eventually,
    generation_schemas,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    shows_wave,
)

ITEMS = 3


async def test_the_pointer_moved_back_while_a_follow_reads_it(
    kafka_bootstrap: str, postgres: LocalPostgres
) -> None:
    url = postgres.create_database("attack31_pointer_back")
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    generations = HeldGenerations(url)
    async with projector_in_process(settings, generations) as (runtime, client):
        await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
        await shows_wave(client, 1, ITEMS, timeout_s=60)
        served = runtime.store
        other = PostgresGenerations(url)
        first = other.open_new()
        await asyncio.to_thread(first.create)
        generations.hold = "open_active"
        await asyncio.to_thread(other.activate, first)
        await eventually(generations.holding.is_set, timeout_s=30)  # the follow read: first
        await asyncio.to_thread(other.activate, served)  # back
        generations.release.set()
        await asyncio.sleep(1.5)
        await asyncio.to_thread(other.activate, first)  # forth
        await eventually(lambda: runtime.store.name == first.name, timeout_s=30)
        await asyncio.to_thread(other.activate, served)  # and back again
        await eventually(lambda: runtime.store.name == served.name, timeout_s=30)
        await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
        await shows_wave(client, 2, ITEMS, timeout_s=60)
        assert runtime.failure is None
        assert not runtime.moving
        assert served.name in generation_schemas(url)
    first.close()
