"""A read asking for a value PostgreSQL cannot hold (a NUL character in an id) is not an
outage. The store's read error was taken as one: a 503 "the view store is unavailable; retry"
with Retry-After: 1 that a client retried forever, the database up all along. Now a 422 that
names the parameter; the store answers the next read as before (real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from projector.generations_postgres import PostgresGenerations
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import (
    caught_up,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    shows_wave,
)

ITEMS = 3


async def test_a_nul_in_an_id_is_a_422_naming_it_not_a_503(
    kafka_bootstrap: str, postgres: LocalPostgres
) -> None:
    url = postgres.create_database("refused_read")
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
    async with projector_in_process(settings, PostgresGenerations(url)) as (runtime, client):
        await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
        await caught_up(client, ITEMS, timeout_s=60)
        for path, field in (
            ("/v1/catalogs/c%001/items/i0", "catalog_id"),
            ("/v1/catalogs/c1/items/i%000", "item_id"),
            ("/v1/catalogs/c%001/items", "catalog_id"),
        ):
            answer = await client.get(path)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert "retry-after" not in answer.headers
            assert [e["field"] for e in answer.json()["errors"]] == [field], answer.text
        await shows_wave(client, 1, ITEMS)  # the same threads' connections still answer
        assert runtime.failure is None
