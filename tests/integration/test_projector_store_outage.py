"""A projector on a real PostgreSQL that restarts while postbacks keep coming (real broker).

A batch the store could not take goes back to the positions the store holds; that read failed
again while the database was still down, outside any handler, so the live consumer died and the
instance failed (503, the process ended for its supervisor) on a database restart of a second
or more. A connection the database dropped was kept and failed every later use, its rollback's
error escaping the store unwrapped, and reads meanwhile were 500s with a traceback each. Now the
consumer waits for the store to answer again and carries on where the store stands, a dropped
connection is replaced, and a read while the store is down is a 503 problem with Retry-After."""

from __future__ import annotations

import asyncio
from pathlib import Path

from projector.generations_postgres import PostgresGenerations
from tests.postgres import own_postgres
from tests.projector_harness import projector_in_process
from tests.support import (
    caught_up,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    shows_wave,
)

ITEMS = 5


async def test_a_database_restart_does_not_end_the_live_consumer(kafka_bootstrap: str) -> None:
    with own_postgres() as server:  # a server of its own: this test stops and starts it
        url = server.create_database("store_outage")
        topics = await make_topics(kafka_bootstrap, partitions=1)
        settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
        async with projector_in_process(settings, PostgresGenerations(url)) as (runtime, client):
            await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
            await caught_up(client, 1 * ITEMS, timeout_s=60)
            await shows_wave(client, 1, ITEMS)
            server.stop()
            await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
            await asyncio.sleep(4)  # the batch fails, and so does every read of the positions
            for path in ("/v1/catalogs", "/v1/catalogs/c1/items/i0", "/v1/catalogs/c1/items"):
                answer = await client.get(path)  # a retry later, not a failure of ours
                assert answer.status_code == 503, (path, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.headers["retry-after"] == "1"
            server.start()
            await caught_up(client, 2 * ITEMS, timeout_s=60)
            await shows_wave(client, 2, ITEMS)
            assert runtime.failure is None
            assert (await client.get("/healthz")).status_code == 200
            await produce_events(kafka_bootstrap, topics.product, price_wave(3, ITEMS))
            await caught_up(client, 3 * ITEMS, timeout_s=60)
            await shows_wave(client, 3, ITEMS)
