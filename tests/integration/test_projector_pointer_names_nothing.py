"""On a real PostgreSQL (no broker): a pointer that names no generation of the database (an
operator's typo restoring it after a DELETE, as the README asks) is a broken pointer too, not a
switch. Before: every instance followed it, made an empty generation of that name and served it
(every read empty), and the generation they had served, used by no one any more, was dropped by
the next sweep. Now: not ready and why, the instance keeps what it has, no schema is made up,
and a sweep drops nothing; once the pointer names the active generation again, it is ready."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from projector.errors import StoreFailed
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from projector.runtime import Runtime
from tests.postgres import LocalPostgres
from tests.postgres import execute as _execute
from tests.support import (
    eventually,
    generation_schemas,
    not_ready_for_the_pointer,
    pointer_not_the_reason,
    projector_on_postgres,
)

POINTER = "public.catalog_stream_generation"


async def refused_and_not_followed(
    url: str, runtime: Runtime, client: httpx.AsyncClient, named: str, not_made: str, kept: str
) -> None:
    """The pointer set to `named`, no generation: the instance not ready and why, its store kept
    (not followed), `not_made` not made up, and another instance's sweep and start refuse it
    (the generation `kept` still there)."""
    store = runtime.store
    _execute(url, f"UPDATE {POINTER} SET schema_name = '{named}'")  # noqa: S608
    await eventually(lambda: not_ready_for_the_pointer(client), timeout_s=10)
    await asyncio.sleep(2)  # heartbeats that would have followed it
    assert runtime.store is store  # not followed
    assert not_made not in generation_schemas(url)  # nor made up
    with pytest.raises(StoreFailed, match="pointer"):  # another instance's sweep: nothing
        PostgresGenerations(url).discard_abandoned()
    assert kept in generation_schemas(url)
    with pytest.raises(StoreFailed, match="pointer"):  # and a start refuses it
        PostgresGenerations(url).open_active()


@pytest.mark.parametrize("named", ["views_999", "public"])
async def test_a_pointer_naming_no_generation_is_not_followed(
    postgres: LocalPostgres, named: str
) -> None:
    database = f"pointer_names_{named}"
    async with projector_on_postgres(postgres, database) as (url, runtime, client):
        store = runtime.store
        assert isinstance(store, PostgresStore)
        assert (await client.get("/v1/catalogs")).status_code == 200
        await refused_and_not_followed(url, runtime, client, named, "views_999", store.schema)
        _execute(url, f"UPDATE {POINTER} SET schema_name = '{store.schema}'")  # noqa: S608
        await eventually(lambda: pointer_not_the_reason(client), timeout_s=10)
        assert runtime.store is store


async def test_a_read_whose_table_is_missing_under_such_a_pointer_is_a_500(
    postgres: LocalPostgres,
) -> None:
    """Its table missing, a read asks the pointer whether a switch replaced its generation (a
    503, asked again once followed). A pointer naming a schema that does not exist is followed
    by no one: that 503 was asked again for ever; it is the defect, a 500."""
    database = "pointer_names_nothing_read"
    async with projector_on_postgres(postgres, database) as (url, runtime, client):
        store = runtime.store
        assert isinstance(store, PostgresStore)
        _execute(url, f"UPDATE {POINTER} SET schema_name = 'views_999'")  # noqa: S608
        _execute(url, f'ALTER TABLE "{store.schema}".catalogs RENAME TO catalogs_gone')
        await asyncio.sleep(2)  # heartbeats that would have followed it
        answer = await client.get("/v1/catalogs")
        assert answer.status_code == 500, answer.text
        assert "retry-after" not in answer.headers
