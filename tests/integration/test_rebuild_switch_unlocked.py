"""A PostgreSQL switch holds the pointer row FOR UPDATE, and every other instance's live batch
waits for it meanwhile (each reads the row FOR SHARE): their views freeze for as long as the
switch holds it. Before, the switch took the row and only then waited (up to 60 s) for its
builder to reach the live consumers' positions. Now the builder gets there first, and under the
row only the last few records other instances applied meanwhile are waited for: here (the
builder let switch while far behind) it has applied every record before the row is taken."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg
import pytest

from projector.consumer import ConsumerLoop
from projector.generations_postgres import PostgresGenerations
from tests.support import SharePostgres, active_generation, rebuilt

pytestmark = pytest.mark.broker
ITEMS, WAVES = 50, 30


async def test_the_builder_reaches_the_live_positions_before_the_switch_holds_the_pointer(
    share_postgres: SharePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = await share_postgres(ITEMS, waves=WAVES)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        old = runtime.store.name
        built_when_held: list[int] = []  # the builder's records when the switch asks for the row
        holding = PostgresGenerations.holding_pointer

        @contextmanager
        def watched(generations: PostgresGenerations) -> Iterator[str]:
            assert runtime.building is not None
            schema = runtime.building.name  # read apart: the store's own reads stay its own
            with psycopg.connect(url) as connection:
                row = connection.execute(
                    f'SELECT COALESCE(SUM(next_offset), 0) FROM "{schema}".offsets'  # noqa: S608
                ).fetchone()
            built_when_held.append(int(row[0]) if row else -1)
            with holding(generations) as active:
                yield active

        monkeypatch.setattr(PostgresGenerations, "holding_pointer", watched)
        # The switch starts at once, the builder far behind (it has not even joined its group).
        monkeypatch.setattr(ConsumerLoop, "caught_up", lambda self: True)
        status = await rebuilt(client, timeout_s=120)
        assert status["generation"] != old
        assert active_generation(url) == status["generation"]
        assert built_when_held == [ITEMS * WAVES]
        item = (await client.get("/v1/catalogs/c1/items/i7")).json()
        assert Decimal(item["current_price"]) == Decimal(f"{WAVES}.07")
