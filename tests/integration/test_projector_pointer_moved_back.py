"""On a real PostgreSQL and broker: the generation pointer moves to another generation (a real
switch, as far as this instance can tell: a generation of this database), a live batch sees it
and the live consumer stops for the follow, and the pointer is moved back before this
instance's next heartbeat (within a second: an operator undoing a switch, a switch rolled
back). The heartbeat then finds the pointer naming the generation this instance serves. Before,
nothing started the live consumer again: the views froze for good, the instance went not ready
and never recovered. Now the live consumer runs there again, from the stored positions.

The heartbeat is held while the pointer moves and comes back (the registry's table locked by
another session): the same order of events as the one-second race, every time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import DDL_LOCK, PostgresStore
from tests.postgres import LocalPostgres, execute
from tests.projector_harness import projector_in_process
from tests.support import (
    caught_up,
    eventually,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    shows_wave,
)

ITEMS = 3
POINTER = "public.catalog_stream_generation"


@contextmanager
def _heartbeats_held(url: str) -> Iterator[None]:
    """Every heartbeat (it replaces its rows in the registry) waits until the block ends."""
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE public.catalog_stream_instances IN ACCESS EXCLUSIVE MODE")
        yield
        holder.rollback()


async def test_a_pointer_moved_back_before_the_follow_leaves_the_live_consumer_running(
    kafka_bootstrap: str, postgres: LocalPostgres
) -> None:
    url = postgres.create_database("pointer_moved_back")
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    async with projector_in_process(settings, PostgresGenerations(url)) as (runtime, client):
        await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
        await caught_up(client, ITEMS, timeout_s=60)
        served = runtime.store.name
        other = PostgresStore(url, f"{served}_1")  # another generation, as a rebuild makes it
        await asyncio.to_thread(other.create)
        other.close()
        with _heartbeats_held(url):
            execute(url, f"UPDATE {POINTER} SET schema_name = '{other.name}'")  # noqa: S608
            await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
            await eventually(lambda: runtime.projector.moved, timeout_s=30)  # the batch saw it
            execute(url, f"UPDATE {POINTER} SET schema_name = '{served}'")  # noqa: S608
        await produce_events(kafka_bootstrap, topics.product, price_wave(3, ITEMS))
        # (before: the views stayed at the first wave, the live consumer stopped for good)
        await shows_wave(client, 3, ITEMS, timeout_s=30)
        await caught_up(client, 3 * ITEMS, timeout_s=30)
        assert runtime.store.name == served
        assert runtime.failure is None

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, timeout_s=15)
        # Nothing was written to the other generation (it had no live consumer).
        with psycopg.connect(url) as reader:
            row = reader.execute(f'SELECT count(*) FROM "{other.name}".items').fetchone()  # noqa: S608
        assert row == (0,)


async def test_a_follow_that_failed_is_undone_when_the_pointer_comes_back(
    kafka_bootstrap: str, postgres: LocalPostgres
) -> None:
    """The heartbeat sees the pointer moved: the follow stops the live consumer, then fails (the
    pointer names no generation by the time it reads it again). The pointer is then restored to
    the generation this instance serves: the live consumer runs there again (before: stopped
    for good, as no follow was needed any more)."""
    url = postgres.create_database("pointer_follow_failed")
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    async with projector_in_process(settings, PostgresGenerations(url)) as (runtime, client):
        await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
        await caught_up(client, ITEMS, timeout_s=60)
        served = runtime.store.name
        other = PostgresStore(url, f"{served}_1")
        await asyncio.to_thread(other.create)
        other.close()
        with psycopg.connect(url) as ddl:  # the follow's open_active waits for this lock
            ddl.execute(DDL_LOCK)
            execute(url, f"UPDATE {POINTER} SET schema_name = '{other.name}'")  # noqa: S608
            await eventually(lambda: runtime.moving and runtime._live is None, timeout_s=30)
            execute(url, f"UPDATE {POINTER} SET schema_name = 'views_999'")  # noqa: S608
            ddl.rollback()
        await eventually(lambda: not runtime.moving, timeout_s=15)  # the follow failed
        assert runtime.store.name == served
        execute(url, f"UPDATE {POINTER} SET schema_name = '{served}'")  # noqa: S608
        await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
        await shows_wave(client, 2, ITEMS, timeout_s=30)
        assert runtime.store.name == served
        assert runtime.failure is None
