"""On a real PostgreSQL (no broker): after the database was unreachable for longer than the
registry's expiry, every instance's registration has expired, the sweeper's own too. Before,
a sweep right after the database came back took another live instance's generation (here one
it was building) as abandoned and dropped it, before that instance could say it again. Now an
instance judges registrations expired only once its own heartbeats have worked for a whole
expiry since they last failed; a generation no live instance uses is then dropped as before."""

from __future__ import annotations

import time

import pytest

from catalog_stream.ports import free_port
from projector import generations_postgres
from projector.errors import StoreUnavailable
from projector.generations_postgres import PostgresGenerations
from tests.postgres import LocalPostgres
from tests.support import generation_schemas

EXPIRY_S = 2.0  # the registry's expiry, shortened (15 s in service)


def test_a_sweep_after_an_outage_keeps_what_live_instances_use(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generations_postgres, "REGISTRATION_EXPIRY_S", EXPIRY_S)
    url = postgres.create_database("rebuild_outage_sweep")
    sweeper, builder = PostgresGenerations(url), PostgresGenerations(url)
    active = sweeper.open_active()
    building, abandoned = builder.open_new(), sweeper.open_new()
    builder.heartbeat([active.name, building.name])  # a rebuild under way on a live instance
    building.create()
    abandoned.create()  # a rebuild whose instance died
    sweeper.heartbeat([active.name])
    sweeper.url = f"postgresql://127.0.0.1:{free_port()}/nothing"  # the outage
    with pytest.raises(StoreUnavailable):
        sweeper.heartbeat([active.name])
    time.sleep(EXPIRY_S + 0.5)  # no instance could say anything meanwhile
    sweeper.url = url  # back: the sweeper says it first, the builder a moment later
    sweeper.heartbeat([active.name])
    assert sweeper.discard_abandoned() == []
    assert sweeper.in_use_elsewhere(building.name)  # (a retire's drop keeps it too)
    assert {building.name, abandoned.name} <= generation_schemas(url)
    deadline = time.monotonic() + EXPIRY_S + 0.5
    while time.monotonic() < deadline:  # both say it every second (here faster) from now on
        sweeper.heartbeat([active.name])
        builder.heartbeat([active.name, building.name])
        time.sleep(0.2)
    assert sweeper.discard_abandoned() == [abandoned.name]
    assert generation_schemas(url) == {active.name, building.name}  # (made with the pointer)
    for store in (active, building, abandoned):
        store.close()


def test_a_sweep_before_the_first_heartbeat_after_a_pause_keeps_what_live_instances_use(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that stood still (stopped, its loop blocked) for longer than the expiry may have
    missed an outage in which the others' registrations expired: its first heartbeat after the
    gap starts a whole expiry again, but its watch starts a due sweep (every 5 minutes: due after
    a long pause) before that heartbeat, and a retire's wait asks meanwhile too. Before, those
    judged by the old state and dropped another live instance's generation."""
    monkeypatch.setattr(generations_postgres, "REGISTRATION_EXPIRY_S", EXPIRY_S)
    url = postgres.create_database("rebuild_pause_sweep")
    sweeper, builder = PostgresGenerations(url), PostgresGenerations(url)
    active = sweeper.open_active()
    building = builder.open_new()
    builder.heartbeat([active.name, building.name])  # a rebuild under way on a live instance
    building.create()
    sweeper.heartbeat([active.name])
    try:
        time.sleep(EXPIRY_S + 0.5)  # the pause; meanwhile the builder could not say it (outage)
        assert sweeper.discard_abandoned() == []  # before the sweeper's next heartbeat
        assert sweeper.in_use_elsewhere(building.name)
        assert building.name in generation_schemas(url)
    finally:
        for store in (active, building):
            store.close()
