"""On a real PostgreSQL (no broker): the default schema (`views`) is made with the generation
pointer, so it is missing only once a switch retired it and it was dropped. A pointer restored
to it then (by mistake: `views` is what a first start names), while other generations exist, is
a broken pointer, as one naming any other schema that does not exist. Before: every instance
followed it, made an empty `views` and served it (every read empty), and a sweep dropped the
generation they had served. Now: not ready and why, the instance keeps what it has, `views` is
not made up, a start and a sweep refuse it; ready again once the pointer names the active
generation. A pointer naming `views` while no other generation exists (a first start's) is
followed, as before."""

from __future__ import annotations

from projector.generations_postgres import PostgresGenerations
from tests.integration.test_projector_pointer_names_nothing import refused_and_not_followed
from tests.postgres import LocalPostgres
from tests.postgres import execute as _execute
from tests.support import (
    eventually,
    generation_schemas,
    pointer_not_the_reason,
    projector_on_postgres,
)

POINTER = "public.catalog_stream_generation"


def test_a_first_start_makes_the_default_schema_with_the_pointer(postgres: LocalPostgres) -> None:
    """Fails on the code before: `views` was made by the store's tables, later (the window in
    which a pointer naming a missing `views` could not be told from a mistake)."""
    url = postgres.create_database("pointer_default_made")
    store = PostgresGenerations(url).open_active()
    assert store.name == "views"
    assert "views" in generation_schemas(url)
    store.close()


def test_a_pointer_naming_a_missing_default_alone_is_followed(postgres: LocalPostgres) -> None:
    url = postgres.create_database("pointer_default_alone")
    PostgresGenerations(url).open_active().close()
    _execute(
        url, 'DROP SCHEMA IF EXISTS "views"'
    )  # (an older release made it only with its tables)
    store = PostgresGenerations(url).open_active()  # no other generation: it can only be that
    assert store.name == "views"
    store.create()
    store.close()


async def test_a_pointer_restored_to_a_dropped_default_is_not_followed(
    postgres: LocalPostgres,
) -> None:
    async with projector_on_postgres(postgres, "pointer_default_dropped") as (url, runtime, client):
        other = PostgresGenerations(url)  # another instance's rebuild switched the views
        fresh = other.open_new()
        fresh.create()
        other.activate(fresh)
        await eventually(
            lambda: runtime.store.name == fresh.name and not runtime.follower.retired,
            timeout_s=30,
        )
        _execute(url, 'DROP SCHEMA "views" CASCADE')  # retired, and dropped (as a sweep does)
        store = runtime.store
        assert (await client.get("/v1/catalogs")).status_code == 200
        await refused_and_not_followed(url, runtime, client, "views", "views", fresh.name)
        assert (await client.get("/v1/catalogs")).status_code == 200  # what it has, served
        _execute(url, f"UPDATE {POINTER} SET schema_name = '{fresh.name}'")  # noqa: S608
        await eventually(lambda: pointer_not_the_reason(client), timeout_s=10)
        assert runtime.store is store
        fresh.close()
