"""Attack on the PostgreSQL switch: an instance stopped (SIGSTOP, a frozen VM) in the middle of a
live batch holds the pointer row FOR SHARE in an open transaction. Another instance's rebuild
must not wait for it for ever with its own live consumer stopped (its views frozen): the switch
gives up in bounded time, the rebuild fails, and the active generation keeps being updated."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from projector.generations_postgres import PostgresGenerations
from tests.conftest import make_topics
from tests.postgres import LocalPostgres
from tests.support import (
    ADMIN,
    eventually,
    instances_sharing,
    price_wave,
    produce_events,
    projector_settings,
)

pytestmark = pytest.mark.broker
ITEMS = 6


async def test_a_switch_does_not_wait_for_ever_for_a_stopped_instances_batch(
    kafka_bootstrap: str, tmp_path: Path, postgres: LocalPostgres
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    url = postgres.create_database("rebuild_pointer_held")
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db")
    await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
    async with instances_sharing(settings, [PostgresGenerations(url)], ITEMS) as instances:
        [(runtime, client)] = instances
        old = runtime.store.name
        # What a stopped instance's batch holds (PostgresStore.write), left open.
        stuck = psycopg.connect(url)
        try:
            stuck.execute(
                "SELECT schema_name FROM public.catalog_stream_generation WHERE id = 1 FOR SHARE"
            )
            started = await client.post("/v1/admin/rebuild", headers=ADMIN)
            assert started.status_code == 202
            await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=90)
        finally:
            stuck.close()  # (else the switch's thread would keep the test from ending)
        assert runtime.rebuild_status.state == "failed", runtime.rebuild_status
        assert runtime.store.name == old
        # The active generation is updated again.
        await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
        for n in range(ITEMS):

            async def priced(n: int = n) -> bool:
                item = (await client.get(f"/v1/catalogs/c1/items/i{n}")).json()
                return Decimal(item["current_price"]) == Decimal(f"2.{n:02d}")

            await eventually(priced, timeout_s=60)
