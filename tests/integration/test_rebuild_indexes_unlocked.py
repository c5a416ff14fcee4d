"""A PostgreSQL switch holds the pointer row FOR UPDATE, and every other instance's live batch
waits for it meanwhile (each reads the row FOR SHARE): its views freeze for as long as the
switch holds it. The read API's indexes on the new generation are built before the switch
takes the row, so that build, the longest step of a switch on a large catalog, freezes no
instance's views."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from projector.postgres_store import PostgresStore
from tests.support import SharePostgres, active_generation, rebuilt

pytestmark = pytest.mark.broker
ITEMS = 6


def _pointer_free(url: str) -> bool:
    """Whether a live batch could read the pointer row now (FOR SHARE) without waiting."""
    with psycopg.connect(url) as connection:
        try:
            connection.execute(
                "SELECT schema_name FROM public.catalog_stream_generation "
                "WHERE id = 1 FOR SHARE NOWAIT"
            )
        except psycopg.errors.LockNotAvailable:
            return False
    return True


async def test_the_new_generations_indexes_are_built_before_the_switch_holds_the_pointer(
    share_postgres: SharePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        old = runtime.store.name
        pointer_free_while_indexing: list[bool] = []
        create = PostgresStore.create

        def watched(store: PostgresStore, indexes: bool = True) -> None:
            if indexes and store.name != old:
                pointer_free_while_indexing.append(_pointer_free(url))
            create(store, indexes)

        monkeypatch.setattr(PostgresStore, "create", watched)
        status = await rebuilt(client, timeout_s=90)
        assert status["generation"] != old
        assert active_generation(url) == status["generation"]
        assert pointer_free_while_indexing
        assert all(pointer_free_while_indexing), pointer_free_while_indexing
        item = (await client.get("/v1/catalogs/c1/items/i3")).json()
        assert Decimal(item["current_price"]) == Decimal("1.03")
