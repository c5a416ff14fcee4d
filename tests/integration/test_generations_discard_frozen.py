"""Attack (fixes30, retirement beside): the process dropping a retired generation is frozen
(SIGSTOP, a frozen VM) in the drop's transaction. That transaction holds the DDL advisory lock
(ensure_tables), the pointer row FOR SHARE and the dropped schema's tables, and, unlike a live
batch's or a switch's, has no idle limit: the database keeps it for as long as the process is
frozen. Every other instance's rebuild then waits for the DDL lock (creating its generation's
tables) for ever, GET says `running` for good, and no next rebuild may start.

The drop is caught in its transaction deterministically: a reader holds the retired generation's
table, the drop waits for it (its bounded lock wait), the process is frozen then, and the reader
lets go: the DROP completes on the server, the COMMIT never comes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from projector.generations_postgres import PostgresGenerations
from tests.support import ADMIN, SharePostgres, eventually

pytestmark = pytest.mark.broker
ITEMS = 6
# What GenerationFollower._discard runs for a retired generation (and a failed rebuild's end).
DISCARD = """
import sys
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore

url, schema = sys.argv[1], sys.argv[2]
print("discarding", flush=True)
PostgresGenerations(url).discard(PostgresStore(url, schema))
print("dropped", flush=True)
"""


def _dropping(url: str, schema: str) -> bool:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE query LIKE %s AND wait_event_type = 'Lock'",
            (f'DROP SCHEMA IF EXISTS "{schema}"%',),
        ).fetchone()
    return row is not None and int(row[0]) > 0


def _start(url: str, schema: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", DISCARD, url, schema], stdout=subprocess.PIPE)


def _waits(url: str) -> list[tuple[object, ...]]:
    """What the database's sessions are doing (shown when the rebuild never ends)."""
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(
            "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()


async def test_a_process_frozen_while_dropping_a_retired_generation_holds_no_rebuild_for_ever(
    share_postgres: SharePostgres,
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        retired = PostgresGenerations(url).open_new()
        await asyncio.to_thread(retired.create)
        retired.close()
        reader = psycopg.connect(url)  # a reader of the retired generation, one long query
        reader.execute(f'LOCK TABLE "{retired.schema}".items IN ACCESS SHARE MODE')
        dropper = _start(url, retired.schema)
        try:
            await eventually(lambda: _dropping(url, retired.schema), timeout_s=20, every_s=0.05)
            dropper.send_signal(signal.SIGSTOP)  # frozen in the drop's transaction
            reader.rollback()  # the DROP completes on the server; its COMMIT never comes
            started = time.monotonic()
            assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
            try:
                await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=90)
            finally:
                print("waits:", _waits(url))
            # (before: still `running` after 90 s, its tables' creation waiting for the DDL lock)
            assert runtime.rebuild_status.state == "done", runtime.rebuild_status
            print("rebuild ended after", time.monotonic() - started)
        finally:
            dropper.send_signal(signal.SIGCONT)
            dropper.kill()
            dropper.communicate()
            reader.close()


# A rebuild's `fresh.create()` (its read indexes: on a large catalog the switch's longest step)
# or a follow's: one transaction, the DDL lock taken first.
CREATE = """
import sys
from projector.postgres_store import PostgresStore

print("creating", flush=True)
PostgresStore(sys.argv[1], sys.argv[2]).create()
print("created", flush=True)
"""
DDL_KEY = 7426153  # postgres_store.DDL_LOCK's


def _waiting_for_ddl_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s"
            " AND NOT granted",
            (DDL_KEY,),
        ).fetchone()
    return row is not None and int(row[0]) > 0


async def test_a_process_frozen_while_creating_a_generation_holds_no_rebuild_for_ever(
    share_postgres: SharePostgres,
) -> None:
    """The same with the process frozen in a generation's creation (caught there while it
    waits for the DDL lock, which another session holds and then lets go)."""
    shared = await share_postgres(ITEMS)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        schema = PostgresGenerations(url).open_new().schema
        holder = psycopg.connect(url)
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_KEY,))
        creator = subprocess.Popen(  # noqa: ASYNC220 (started, not waited for)
            [sys.executable, "-c", CREATE, url, schema], stdout=subprocess.PIPE
        )
        try:
            await eventually(lambda: _waiting_for_ddl_lock(url), timeout_s=20, every_s=0.05)
            creator.send_signal(signal.SIGSTOP)  # frozen in the creation's transaction
            holder.rollback()  # it takes the DDL lock; its next statement never comes
            assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
            try:
                await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=90)
            finally:
                print("waits:", _waits(url))
            # (before: still `running` after 90 s, waiting for the DDL lock)
            assert runtime.rebuild_status.state == "done", runtime.rebuild_status
        finally:
            creator.send_signal(signal.SIGCONT)
            creator.kill()
            creator.communicate()
            holder.close()
