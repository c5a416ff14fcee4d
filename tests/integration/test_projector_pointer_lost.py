"""On a real PostgreSQL (no broker: no live consumer): the generation pointer (its table, or its
row) gone, as an operator's DROP or DELETE leaves it, is a defect no retry mends, not an outage.
A read whose table is missing, the pointer unreadable, is a 500 problem+json logged once at
ERROR (before: a 503 "retry" with Retry-After, for ever); /readyz says not ready and why, and the
watch logs it once at ERROR; no instance takes a missing row as "the default generation is
active" (before: it followed the pointer to an empty `views`, re-created it there, and the views
it had were left for a sweep to drop); a start refuses to re-create a pointer that generations
exist beside (before: it pointed it at the default one). The pointer locked by another session
(an outage: a lock not granted in time) stays a 503."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from projector.errors import StoreFailed
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from tests.postgres import LocalPostgres
from tests.postgres import execute as _execute
from tests.support import (
    active_generation,
    eventually,
    not_ready_for_the_pointer,
    pointer_not_the_reason,
    projector_on_postgres,
)

POINTER = "public.catalog_stream_generation"


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_read_with_the_pointer_table_gone_is_a_logged_500_and_not_ready(
    postgres: LocalPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    async with projector_on_postgres(postgres, "pointer_table_gone") as (url, runtime, client):
        store = runtime.store
        assert isinstance(store, PostgresStore)
        assert (await client.get("/v1/catalogs")).status_code == 200
        caplog.set_level(logging.ERROR)
        _execute(url, f"DROP TABLE {POINTER}")
        _execute(url, f'ALTER TABLE "{store.schema}".catalogs RENAME TO catalogs_gone')
        answer = await client.get("/v1/catalogs")
        assert answer.status_code == 500, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "retry-after" not in answer.headers
        await eventually(lambda: not_ready_for_the_pointer(client), timeout_s=10)
        await asyncio.sleep(3)  # three more heartbeats, each failing the same way
        watch = [r for r in _errors(caplog) if r.name == "projector.generation_follower"]
        assert len(watch) == 1, [r.getMessage() for r in watch]  # once, not every second
        assert "pointer" in watch[0].getMessage(), watch[0].getMessage()
        assert runtime.store is store  # it serves what it has; nothing re-pointed


async def test_a_pointer_locked_by_another_session_stays_a_503(postgres: LocalPostgres) -> None:
    short_locks = projector_on_postgres(postgres, "pointer_locked", lock_timeout="300ms")
    async with short_locks as (url, runtime, client):
        store = runtime.store
        assert isinstance(store, PostgresStore)
        _execute(url, f'ALTER TABLE "{store.schema}".catalogs RENAME TO catalogs_gone')
        with psycopg.connect(url) as other:  # a migration holding the pointer's table
            other.execute(f"LOCK TABLE {POINTER} IN ACCESS EXCLUSIVE MODE")
            answer = await client.get("/v1/catalogs")
            other.rollback()
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert (await client.get("/v1/catalogs")).status_code == 500  # the defect, once it tells


async def test_a_missing_pointer_row_is_not_taken_as_the_default_generation(
    postgres: LocalPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    async with projector_on_postgres(postgres, "pointer_row_gone") as (url, runtime, client):
        other = PostgresGenerations(url)  # another instance's rebuild switched the views
        fresh = other.open_new()
        fresh.create()
        other.activate(fresh)
        await eventually(lambda: runtime.store.name == fresh.name, timeout_s=30)
        caplog.set_level(logging.ERROR)
        _execute(url, f"DELETE FROM {POINTER}")  # noqa: S608
        await eventually(lambda: not_ready_for_the_pointer(client), timeout_s=10)
        watch = [r for r in _errors(caplog) if r.name == "projector.generation_follower"]
        assert len(watch) == 1, [r.getMessage() for r in watch]
        assert runtime.store.name == fresh.name  # not followed to an empty `views`
        assert (await client.get("/v1/catalogs")).status_code == 200  # what it has, served
        put_back = f"INSERT INTO {POINTER} VALUES (1, '{fresh.name}')"  # noqa: S608
        _execute(url, put_back)
        await eventually(lambda: pointer_not_the_reason(client), timeout_s=10)  # put back
        assert runtime.store.name == active_generation(url) == fresh.name
        fresh.close()
    _execute(url, f"DELETE FROM {POINTER}")  # noqa: S608 - deleted again, then a start
    with pytest.raises(StoreFailed, match="pointer"):
        PostgresGenerations(url).open_active()
    _execute(url, f"DROP TABLE {POINTER}")  # and its table
    with pytest.raises(StoreFailed, match="pointer"):
        PostgresGenerations(url).open_active()


def test_a_first_start_creates_the_pointer(postgres: LocalPostgres) -> None:
    url = postgres.create_database("pointer_first_start")
    with ThreadPoolExecutor(6) as pool:  # instances starting at once: one makes it
        stores = list(pool.map(lambda _: PostgresGenerations(url).open_active(), range(6)))
    assert {s.name for s in stores} == {"views"}
    assert active_generation(url) == "views"
    stores[0].create()
    _execute(url, f"DROP TABLE {POINTER}")  # lost, with only the default generation beside:
    assert PostgresGenerations(url).open_active().name == "views"  # it can only be that one
    for store in stores:
        store.close()
