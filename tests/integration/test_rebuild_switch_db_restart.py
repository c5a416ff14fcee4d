"""On a real PostgreSQL that restarts (no broker) while a switch holds the generation pointer:
the row is lost with the connection that held it (other instances' batches may land in the old
generation from then on), so the switch must not move the pointer, and says so as the store
being unavailable, as every other store failure (before: psycopg's own OperationalError from
`activate`, outside the package's errors). The pointer stays; the next switch works."""

from __future__ import annotations

import time

import psycopg
import pytest

from projector.errors import StoreUnavailable
from projector.generations_postgres import PostgresGenerations
from tests.postgres import LocalPostgres, own_postgres
from tests.support import active_generation


def _restart(server: LocalPostgres) -> None:
    """Stopped (every session ends), and started again once its last processes are gone."""
    server.stop()
    deadline = time.monotonic() + 30
    while True:
        try:
            server.start()
            return
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "the database did not start again"
            time.sleep(0.5)


def test_a_switch_whose_database_restarts_under_it_does_not_move_the_pointer() -> None:
    with own_postgres() as server:  # a server of its own: this test restarts it
        url = server.create_database("switch_restart")
        generations = PostgresGenerations(url)
        active, fresh = generations.open_active(), generations.open_new()
        try:
            active.create()
            fresh.create()
            with generations.holding_pointer() as held:
                assert held == active.name
                _restart(server)
                with pytest.raises(StoreUnavailable):
                    generations.activate(fresh)
            assert active_generation(url) == active.name
            with generations.holding_pointer() as held:  # nothing is left holding it
                assert held == active.name
                generations.activate(fresh)
            assert active_generation(url) == fresh.name
        finally:
            active.close()
            fresh.close()
