"""An open change stream (SSE) while the view store (a real PostgreSQL) restarts.

Each wake of a stream reads the feed; during an outage that read failed inside the stream's
body, after its 200 was sent: the stream was cut with a traceback logged per stream, and a
browser's EventSource, reconnecting, met 503s, which end it for good. Now the stream stays
open, says it is alive, reads again every second, and once the store answers it goes on from
the change it had reached: every change announced once, none missed."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from projector.generations_postgres import PostgresGenerations
from tests.postgres import own_postgres
from tests.support import (
    eventually,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    read_stream_ids,
    serving_projector,
)

ITEMS = 5


async def test_an_open_stream_goes_on_across_a_database_restart(kafka_bootstrap: str) -> None:
    with own_postgres() as server:  # a server of its own: this test stops and starts it
        url = server.create_database("store_outage_stream")
        topics = await make_topics(kafka_bootstrap, partitions=1)
        settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
        async with serving_projector(settings, PostgresGenerations(url)) as base:
            ids: list[int] = []
            ended = asyncio.Event()
            reader = asyncio.create_task(read_stream_ids(base, ids, ended))
            await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
            await eventually(lambda: len(ids) == ITEMS, timeout_s=60)
            server.stop()
            await asyncio.sleep(17)  # past a stream's 15 s wake: it reads the feed meanwhile
            server.start()
            await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
            await eventually(lambda: len(ids) == 2 * ITEMS or ended.is_set(), timeout_s=60)
            assert not ended.is_set(), ids  # the stream was not cut
            assert sorted(Counter(ids).values()) == [1] * 2 * ITEMS, ids  # each change once
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
