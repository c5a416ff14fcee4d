"""Attack on the PostgreSQL switch: an instance stopped (SIGSTOP, a frozen VM) in the middle of a
live batch holds the pointer row FOR SHARE in an open transaction. Another instance's rebuild
must not wait for it for ever with its own live consumer stopped (its views frozen): the switch
gives up in bounded time, the rebuild fails, and the active generation keeps being updated."""

from __future__ import annotations

import psycopg
import pytest

from tests.support import (
    ADMIN,
    SharePostgres,
    eventually,
    shows_wave,
)

pytestmark = pytest.mark.broker
ITEMS = 6


async def test_a_switch_does_not_wait_for_ever_for_a_stopped_instances_batch(
    share_postgres: SharePostgres,
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
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
        await shared.wave(2, ITEMS)
        await shows_wave(client, 2, ITEMS)
