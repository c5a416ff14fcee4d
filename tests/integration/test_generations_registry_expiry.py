"""On a real PostgreSQL (no broker): the registry of which generations each instance uses. A
process killed (no stop, so no last heartbeat saying it uses nothing) left its rows for ever:
they accumulated, and after every restart of the database they counted as live again for an
expiry (every registration does then), keeping the generations they named. Now a sweep deletes
the rows of instances silent for REGISTRATION_DELETE_S, never a live instance's; a live one
that was paused that long (its rows deleted meanwhile) says them again at its next heartbeat."""

from __future__ import annotations

import time

import psycopg

from projector.generations_postgres import REGISTRATION_DELETE_S, PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import eventually

REGISTRY = "public.catalog_stream_instances"


def _registered(url: str) -> dict[str, set[str]]:
    """Each instance's registered schemas."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(f"SELECT instance, schema_name FROM {REGISTRY}").fetchall()  # noqa: S608
    found: dict[str, set[str]] = {}
    for instance, schema in rows:
        found.setdefault(str(instance), set()).add(str(schema))
    return found


def _silent_for(url: str, instance: str, seconds: float) -> None:
    """The instance said nothing for `seconds` (as if killed, or paused, that long ago)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            f"UPDATE {REGISTRY} SET seen_at = now() - make_interval(secs => %s) "  # noqa: S608
            "WHERE instance = %s",
            (seconds, instance),
        )


def _up_for_the_bound(url: str) -> None:
    """No row is deleted while the database has been up for less than the bound (every live
    instance has said its rows again by then): wait for that, on a server just started. Before
    any instance starts: one that stood still for seconds judges no registration for a while."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT extract(epoch FROM now() - pg_postmaster_start_time())"
        ).fetchone()
    assert row is not None
    time.sleep(max(0.0, REGISTRATION_DELETE_S + 1 - float(row[0])))


def test_a_sweep_deletes_the_rows_of_instances_gone_and_keeps_the_live_ones(
    postgres: LocalPostgres,
) -> None:
    _up_for_the_bound(postgres.admin_url)
    url = postgres.create_database("registry_expiry_gone")
    sweeper, live, killed, lately = (PostgresGenerations(url) for _ in range(4))
    active = sweeper.open_active()
    building = live.open_new()
    sweeper.heartbeat([active.name])
    live.heartbeat([active.name, building.name])
    killed.heartbeat([active.name])
    lately.heartbeat([active.name])
    _silent_for(url, killed.instance, REGISTRATION_DELETE_S + 5)
    _silent_for(url, lately.instance, REGISTRATION_DELETE_S - 5)  # expired, not yet deleted
    try:
        assert sweeper.discard_abandoned() == []
        registered = _registered(url)
        assert registered == {
            sweeper.instance: {active.name},
            live.instance: {active.name, building.name},
            lately.instance: {active.name},
        }, registered
        # The sweeper's own rows are never deleted by itself, however old.
        _silent_for(url, sweeper.instance, REGISTRATION_DELETE_S + 5)
        assert sweeper.discard_abandoned() == []
        assert sweeper.instance in _registered(url)
    finally:
        active.close()
        building.close()


async def test_a_live_instance_whose_rows_were_deleted_says_them_again(
    postgres: LocalPostgres,
) -> None:
    """The instance runs (its watch says what it uses every second); its rows are as old as a
    long pause leaves them, and another instance's sweep deletes them. Its next heartbeat
    registers them again, its generation in use as before."""
    _up_for_the_bound(postgres.admin_url)
    url = postgres.create_database("registry_expiry_paused")
    generations = PostgresGenerations(url)
    async with projector_in_process(ProjectorSettings(store_url=url), generations, False) as (
        runtime,
        _,
    ):
        served = runtime.store.name
        sweeper = PostgresGenerations(url)
        sweeper.heartbeat([served])
        for _ in range(20):  # until the sweep deletes them before the next heartbeat is said
            _silent_for(url, generations.instance, REGISTRATION_DELETE_S + 5)
            sweeper.discard_abandoned()
            if generations.instance not in _registered(url):
                break
        assert generations.instance not in _registered(url)
        await eventually(lambda: _registered(url).get(generations.instance) == {served}, 5)
        assert sweeper.in_use_elsewhere(served)
