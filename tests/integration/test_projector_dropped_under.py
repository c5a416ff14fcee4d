"""On a real PostgreSQL (no broker: no live consumer): an instance whose heartbeats have not
reached the database for longer than the registry's expiry (here: its connects refused) while
its readers' connections still work, is taken as gone by another instance, whose switch then
drops the old schema under those readers. Their reads find its tables missing. That is no
defect: the pointer names another generation, and asked again (once this instance follows it)
the read answers. So it is a 503 with Retry-After, as a read of a retired generation is, and the
instance moves to the active generation once its watch reaches the database. Before, the
missing table was a defect's logged 500, which clients do not retry. A table missing from the
generation the pointer still names stays a 500 (test_projector_read_defect.py)."""

from __future__ import annotations

from catalog_stream.ports import free_port
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import eventually


async def test_a_read_of_a_generation_dropped_under_a_silent_instance_is_a_retry(
    postgres: LocalPostgres,
) -> None:
    url = postgres.create_database("projector_dropped_under")
    generations = PostgresGenerations(url)
    async with projector_in_process(ProjectorSettings(), generations, False) as (runtime, client):
        old = runtime.store.name
        assert (await client.get("/v1/catalogs")).status_code == 200
        generations.url = f"postgresql://127.0.0.1:{free_port()}/nothing"  # heartbeats fail
        try:
            other = PostgresGenerations(url)  # another instance's rebuild switches...
            fresh = other.open_new()
            fresh.create()
            other.activate(fresh)
            # ...and, this instance unheard of past the expiry, drops the old schema.
            other.discard(PostgresStore(url, old))
            for _ in range(3):  # each reader thread, on a connection opened before or not
                answer = await client.get("/v1/catalogs")
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "1"
                assert answer.headers["content-type"] == "application/problem+json"
            assert runtime.store.name == old  # (its watch cannot reach the pointer yet)
        finally:
            generations.url = url
        await eventually(lambda: runtime.store.name == fresh.name, timeout_s=30)
        answer = await client.get("/v1/catalogs")
        assert answer.status_code == 200, answer.text
        fresh.close()
