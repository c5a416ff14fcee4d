"""On a real PostgreSQL that restarts (no broker): while it was down, every instance's
registration expired without any instance being gone. An instance that starts just after the
database came back (the outage ended its live consumer and its supervisor restarted it, or it
was just deployed) sweeps at once: its own heartbeats never failed, so it judged every expired
registration as an instance gone, and dropped the generation another live instance was building
before that one could say it again. Now no registration is judged expired while the database
itself has been up for less than the expiry; a generation no instance registered is dropped as
before."""

from __future__ import annotations

import time

import pytest

from projector import generations_postgres
from projector.generations_postgres import PostgresGenerations
from tests.postgres import own_postgres
from tests.support import generation_schemas

EXPIRY_S = 2.0  # the registry's expiry, shortened (15 s in service)


def test_a_start_just_after_the_database_restarted_keeps_what_live_instances_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(generations_postgres, "REGISTRATION_EXPIRY_S", EXPIRY_S)
    with own_postgres() as server:  # a server of its own: this test restarts it
        url = server.create_database("rebuild_restart_sweep")
        builder = PostgresGenerations(url)
        active = builder.open_active()
        building, abandoned = builder.open_new(), builder.open_new()
        try:
            builder.heartbeat(
                [active.name, building.name]
            )  # a rebuild under way on a live instance
            building.create()
            abandoned.create()  # a rebuild whose instance died
            server.stop()  # the outage: longer than the expiry
            time.sleep(EXPIRY_S + 0.5)
            server.start()
            starting = PostgresGenerations(url)  # a process starting now, before the builder says
            starting.heartbeat([active.name])
            assert starting.discard_abandoned() == [abandoned.name]
            assert starting.in_use_elsewhere(building.name)
            assert generation_schemas(url) == {active.name, building.name}
            deadline = time.monotonic() + EXPIRY_S + 0.5  # the database up for longer than that
            while time.monotonic() < deadline:  # both say it every second (here faster) from now on
                starting.heartbeat([active.name])
                builder.heartbeat([active.name, building.name])
                time.sleep(0.2)
            assert starting.discard_abandoned() == []
            assert starting.in_use_elsewhere(building.name)
            builder.heartbeat([active.name])  # the rebuild ended: no longer in use
            assert not starting.in_use_elsewhere(building.name)
        finally:
            for store in (active, building, abandoned):
                store.close()
