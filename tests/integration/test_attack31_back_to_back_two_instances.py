"""Attack on the generation watch and follow (generation_follower.py) with two real instances on
one real PostgreSQL and broker (one consumer group): instance A rebuilds three times back to
back while records keep coming; instance B follows each switch. Sampled all along: B never
serves a generation that no longer exists. After: both on the active generation, no failure,
B's views show the last wave, and only the active generation is left."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg

from projector.generations_postgres import PostgresGenerations
from projector.runtime import Runtime
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import (
    eventually,
    generation_schemas,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    rebuilt,
    shows_wave,
)

ITEMS = 4


def _active(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT schema_name FROM public.catalog_stream_generation WHERE id = 1"
        ).fetchone()
    assert row is not None
    return str(row[0])


async def _watch_served(runtime: Runtime, url: str, seen: list[str]) -> None:
    """Every 20 ms: B's generation, when it exists no more while B still serves it."""
    while True:
        name = runtime.store.name
        schemas = await asyncio.to_thread(generation_schemas, url)
        if name not in schemas and runtime.store.name == name:
            seen.append(name)
        await asyncio.sleep(0.02)


async def test_back_to_back_rebuilds_followed_by_another_instance(
    kafka_bootstrap: str, postgres: LocalPostgres
) -> None:
    url = postgres.create_database("attack31_back_to_back")
    topics = await make_topics(kafka_bootstrap, partitions=4)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    gone_while_served: list[str] = []
    async with (
        projector_in_process(settings, PostgresGenerations(url)) as (a, client_a),
        projector_in_process(settings, PostgresGenerations(url)) as (b, client_b),
    ):
        await eventually(lambda: a.projector.assigned and b.projector.assigned, timeout_s=60)
        await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
        await shows_wave(client_a, 1, ITEMS, timeout_s=120)
        watcher = asyncio.create_task(_watch_served(b, url, gone_while_served))
        try:
            for round_ in range(3):
                minute = 2 + round_

                async def more(minute: int = minute) -> None:
                    await produce_events(kafka_bootstrap, topics.product, price_wave(minute, 1))

                status = await rebuilt(client_a, timeout_s=120, every_s=0.05,
                                       while_running=more)  # fmt: skip
                assert status["state"] == "done", status
            last = 10
            await produce_events(kafka_bootstrap, topics.product, price_wave(last, ITEMS))
            active = await asyncio.to_thread(_active, url)
            await eventually(lambda: a.store.name == b.store.name == active, timeout_s=60)
            await shows_wave(client_b, last, ITEMS, timeout_s=60)
            await shows_wave(client_a, last, ITEMS, timeout_s=60)
            assert a.failure is None
            assert b.failure is None
        finally:
            watcher.cancel()
        assert gone_while_served == []
        await eventually(lambda: generation_schemas(url) == {active}, timeout_s=60)
