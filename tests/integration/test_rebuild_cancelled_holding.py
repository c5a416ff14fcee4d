"""Attack on the PostgreSQL switch: the projector stops while its rebuild's switch is still
waiting for the pointer row (another instance's batch holds it FOR SHARE: up to 30 s). The
cancellation left the waiting thread behind; it took the row FOR UPDATE once free, and nothing
ever let it go (its session said alive every second). The rebuild's failure path then discards
its generation, which reads that same row FOR SHARE: it waited for its own process for ever, and
so did the projector's stop. Now a hold taken after its switch was cancelled is let go at once:
the stop ends, and the other instances' batches (FOR SHARE) are not held up."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from tests.support import ADMIN, SharePostgres, eventually

pytestmark = pytest.mark.broker
ITEMS = 6
_WAITING_SWITCH = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'"
)


async def test_a_stop_during_the_switchs_wait_for_the_pointer_ends(
    share_postgres: SharePostgres,
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    watcher = psycopg.connect(url, autocommit=True)
    stuck = psycopg.connect(url)  # what another instance's live batch holds (PostgresStore)
    stopping: asyncio.Task[bool | None] | None = None
    try:
        running = shared.instances()
        [(runtime, client)] = await running.__aenter__()
        stuck.execute(
            "SELECT schema_name FROM public.catalog_stream_generation WHERE id = 1 FOR SHARE"
        )
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        await eventually(lambda: watcher.execute(_WAITING_SWITCH).fetchone() == (1,), timeout_s=90)
        rebuild = runtime._rebuild  # (the task the stop cancels)
        assert rebuild is not None
        stopping = asyncio.create_task(running.__aexit__(None, None, None))
        # The other instance's batch ends as the stop cancels the rebuild: the waiting thread
        # takes the row then, before the failure path's discard reads it.
        await eventually(rebuild.cancelling, timeout_s=30, every_s=0.002)
        stuck.rollback()
        started = time.monotonic()
        await asyncio.wait_for(asyncio.shield(stopping), 60)
        assert time.monotonic() - started < 60
        assert runtime.rebuild_status.state == "failed", runtime.rebuild_status
        # Nobody holds the pointer row now: another instance's batch takes it FOR SHARE at once.
        stuck.execute("SET lock_timeout = '2s'")
        stuck.execute(
            "SELECT schema_name FROM public.catalog_stream_generation WHERE id = 1 FOR SHARE"
        )
    finally:
        stuck.close()
        # (On the code before, the stop waits for ever: end the sessions that keep it waiting.)
        watcher.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if stopping is not None:
            await asyncio.wait({stopping}, timeout=30)
        watcher.close()
