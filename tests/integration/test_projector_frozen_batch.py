"""Attack on a live batch (real broker, real PostgreSQL, a real projector process): the instance
is frozen (SIGSTOP; a host cut off) in the middle of a batch's transaction, which reads the
generation pointer row FOR SHARE. Before, the database kept that transaction open for as long as
the process stayed frozen, and every other instance's rebuild failed at its switch (30 s
waiting for the row). Now a live batch's transaction may stay idle only BATCH_SILENCE_LIMIT: the
database ends the frozen session, the other instance switches; once resumed, the frozen
instance's batch fails as in a store outage, is retried from the stored positions, and its views
and feed are exact (each change once)."""

from __future__ import annotations

import os
import signal
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

from catalog_stream.ports import free_port
from projector.app import create_app
from projector.generations_postgres import PostgresGenerations
from tests.support import (
    ADMIN_TOKEN,
    SharePostgres,
    active_generation,
    eventually,
    start_cli,
    stop,
)

ITEMS = 6
FROZEN = "frozen-instance"  # the frozen process's application_name, seen by the trigger
# Every statement of the frozen instance on the items takes 5 s while armed: long enough to see
# it under way and stop the process there (the database then ends the statement, and the
# transaction is idle, its client stopped).
SLOW = f"""
CREATE OR REPLACE FUNCTION public.slow_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('application_name') = '{FROZEN}' THEN PERFORM pg_sleep(5); END IF;
  RETURN NULL;
END $$;
"""
DISARMED = """
CREATE OR REPLACE FUNCTION public.slow_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NULL; END $$;
"""


def _views_of(url: str) -> tuple[list[str], list[tuple[str, int]]]:
    """The active generation's items, and how often its feed announces each (event, kind)."""
    schema = active_generation(url)
    with psycopg.connect(url) as connection:
        items = connection.execute(
            f'SELECT item_id FROM "{schema}".items ORDER BY 1'  # noqa: S608 - the pointer's
        ).fetchall()
        announced = connection.execute(
            f"SELECT event_id || ' ' || kind, count(*) FROM \"{schema}\".changes GROUP BY 1"  # noqa: S608
        ).fetchall()
    return [str(i) for (i,) in items], [(str(e), int(n)) for e, n in announced]


async def _shows(client: httpx.AsyncClient, minute: int) -> None:
    for n in range(ITEMS):

        async def priced(n: int = n) -> bool:
            try:
                response = await client.get(f"/v1/catalogs/c1/items/i{n}")
            except httpx.TransportError:  # (not serving yet)
                return False
            if response.status_code != 200:  # (not applied yet: 404)
                return False
            return Decimal(response.json()["current_price"]) == Decimal(f"{minute}.{n:02d}")

        await eventually(priced, timeout_s=120, every_s=0.5)


async def test_an_instance_frozen_in_a_batch_does_not_hold_back_another_instances_switch(
    share_postgres: SharePostgres, tmp_path: Path
) -> None:
    shared = await share_postgres(ITEMS)
    url, settings = shared.url, shared.settings
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "CATALOG_PROJECTOR_PORT": str(port),
        "CATALOG_PROJECTOR_TOPIC": settings.topic,
        "CATALOG_PROJECTOR_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "CATALOG_PROJECTOR_GROUP_ID": settings.group_id,
        "CATALOG_PROJECTOR_STORE_URL": f"{url}?application_name={FROZEN}",
        "CATALOG_PROJECTOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "CATALOG_PROJECTOR_READY_MAX_LAG": "1000000",
    }
    log = tmp_path / "frozen.log"
    frozen = start_cli("projector", env, log)
    monitor = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await _shows(client, 1)  # the preloaded wave, by the process (the only instance)
            # Another instance (its live consumer not started: the frozen one keeps the
            # partition), started first: a start waits on the frozen batch too (its DDL on the
            # items), for as long as it is frozen on the code before.
            other = create_app(settings, PostgresGenerations(url), False)
            runtime = other.state.runtime
            async with other.router.lifespan_context(other):
                await monitor.execute(SLOW)
                await monitor.execute(
                    "CREATE TRIGGER slow AFTER INSERT ON views.items "
                    "FOR EACH STATEMENT EXECUTE FUNCTION public.slow_items()"
                )
                await shared.wave(2, ITEMS)

                async def in_its_batch() -> bool:
                    cursor = await monitor.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
                        "AND state = 'active' AND query LIKE 'INSERT INTO items%%'",
                        (FROZEN,),
                    )
                    return await cursor.fetchone() is not None

                await eventually(in_its_batch, timeout_s=60)
                frozen.send_signal(signal.SIGSTOP)  # in its batch, which holds the row FOR SHARE
                await monitor.execute(DISARMED)
                # It rebuilds the views and switches to them.
                assert runtime.start_rebuild()
                try:
                    await eventually(
                        lambda: runtime.rebuild_status.state != "running", timeout_s=150
                    )
                finally:  # (else, failing, this instance's shutdown waits on the frozen one)
                    frozen.send_signal(signal.SIGCONT)
                assert runtime.rebuild_status.state == "done", runtime.rebuild_status
                assert active_generation(url) == runtime.store.name != "views"
                await _shows(client, 2)  # its batch, retried, shows the wave it was writing
                await shared.wave(3, ITEMS)
                await _shows(client, 3)  # and it carries on
                assert frozen.poll() is None
                assert (await client.get("/healthz")).status_code == 200
                items, announced = _views_of(url)
                assert items == [f"i{n}" for n in range(ITEMS)]
                assert [a for a in announced if a[1] != 1] == []  # each change once
                assert len({e.split()[0] for e, _ in announced}) == 3 * ITEMS
    finally:
        frozen.send_signal(signal.SIGCONT)
        stop(frozen)
        await monitor.close()
