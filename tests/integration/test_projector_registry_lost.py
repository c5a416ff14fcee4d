"""On a real PostgreSQL (no broker): the registry of which generations each instance uses
(public.catalog_stream_instances) dropped by an operator is housekeeping lost, not a broken
generation pointer: the next heartbeat makes it again and says what this instance uses, and the
instance stays ready. Before: every instance's heartbeat failed on it, every instance said "the
generation pointer is broken" and was not ready at once (the whole service out of its load
balancer) until a sweep, up to ABANDONED_EVERY_S (300 s) later, made the table again."""

from __future__ import annotations

import asyncio

import psycopg

from tests.postgres import LocalPostgres
from tests.postgres import execute as _execute
from tests.support import eventually, projector_on_postgres

REGISTRY = "public.catalog_stream_instances"


def _registered(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as connection:
        try:
            rows = connection.execute(f"SELECT schema_name FROM {REGISTRY}").fetchall()  # noqa: S608
        except psycopg.errors.UndefinedTable:
            return set()
    return {str(r[0]) for r in rows}


async def test_a_dropped_registry_is_made_again_and_the_instance_stays_ready(
    postgres: LocalPostgres,
) -> None:
    async with projector_on_postgres(postgres, "registry_dropped") as (url, runtime, client):
        await eventually(lambda: runtime.store.name in _registered(url), timeout_s=10)
        _execute(url, f"DROP TABLE {REGISTRY}")
        await eventually(lambda: runtime.store.name in _registered(url), timeout_s=10)
        for _ in range(4):  # through the heartbeats after the drop
            ready = await client.get("/readyz")
            assert "pointer" not in str(ready.json().get("error")), ready.text
            await asyncio.sleep(0.5)
