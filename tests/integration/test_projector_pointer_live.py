"""On a real PostgreSQL and broker: the live consumer's batches while the generation pointer is
broken (an operator's mistake). Its table dropped, they failed as an outage: a warning a second,
for ever, never said to be the defect. Its row deleted, they were written unchecked, into the
generation this instance had (no row to lock: a switch could not wait for them). Naming no
generation, the consumer stopped as if another instance had switched, and was never started
again once the pointer was restored. Now each is refused as the defect it is: logged once at
ERROR, /readyz not ready and why, nothing written, tried again every second; once the pointer
names the active generation again, the batches go in and it is ready."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal

import pytest

from tests.postgres import execute as _execute
from tests.support import (
    SharePostgres,
    caught_up,
    eventually,
    not_ready_for_the_pointer,
    shows_wave,
)

ITEMS = 3
POINTER = "public.catalog_stream_generation"
_TABLE = f"CREATE TABLE {POINTER} (id INTEGER PRIMARY KEY, schema_name TEXT NOT NULL)"
# How each break is made, and how an operator mends it (given the active generation).
BREAKS: dict[str, tuple[str, Callable[[str], list[str]]]] = {
    "table_dropped": (
        f"DROP TABLE {POINTER}",
        lambda schema: [_TABLE, f"INSERT INTO {POINTER} VALUES (1, '{schema}')"],  # noqa: S608
    ),
    "row_deleted": (
        f"DELETE FROM {POINTER}",  # noqa: S608
        lambda schema: [f"INSERT INTO {POINTER} VALUES (1, '{schema}')"],  # noqa: S608
    ),
    "names_nothing": (
        f"UPDATE {POINTER} SET schema_name = 'views_999'",  # noqa: S608
        lambda schema: [f"UPDATE {POINTER} SET schema_name = '{schema}'"],  # noqa: S608
    ),
}


@pytest.mark.parametrize("broken", sorted(BREAKS))
async def test_live_batches_under_a_broken_pointer_are_refused_as_the_defect(
    share_postgres: SharePostgres, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    shared = await share_postgres(ITEMS)  # (wave 1 written)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        await caught_up(client, ITEMS, timeout_s=60)
        await shows_wave(client, 1, ITEMS)
        store = runtime.store
        caplog.set_level(logging.INFO)
        break_it, mend = BREAKS[broken]
        _execute(url, break_it)
        await shared.wave(2, ITEMS)
        await eventually(lambda: not_ready_for_the_pointer(client), timeout_s=15)
        await asyncio.sleep(4)  # the batch, tried again every second
        for n in range(ITEMS):  # not written: the views still show the first wave
            item = (await client.get(f"/v1/catalogs/c1/items/i{n}")).json()
            assert Decimal(item["current_price"]) == Decimal(f"1.{n:02d}"), item
        consumer = [r for r in caplog.records if r.name.startswith("projector.consumer")]
        told = [r for r in consumer if r.levelno >= logging.ERROR]
        assert len(told) == 1, [r.getMessage() for r in told]  # once, not every second
        assert "pointer" in told[0].getMessage(), told[0].getMessage()
        as_outage = [r.getMessage() for r in consumer if "not written" in r.getMessage()]
        assert as_outage == []  # (before: a warning a second, as for an outage)
        assert runtime.store is store
        assert runtime.failure is None
        for statement in mend(store.name):
            _execute(url, statement)
        await shows_wave(client, 2, ITEMS, timeout_s=30)  # the batch goes in

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, timeout_s=15)
