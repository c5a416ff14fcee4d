"""On a real PostgreSQL: the sweep decides which generations are unused from lists it reads once,
then drops them one by one, each after a wait of up to 10 s for its locks. A generation it found
unused may have been made active meanwhile (the rebuild of an instance whose heartbeats had
lapsed, switching once they work again): the sweep must not drop the generation the pointer
names. Before, after waiting out a locked generation, it dropped the active one: every
instance's views gone.

The other order (stop 40, seen once in a run of this test): the sweep takes the pointer row FOR
SHARE before the waiting switch gets it, drops the generation, and the switch then pointed at the
dropped schema. The switch now checks, the row its own, that the schema is there
(generations_pointer.point_at): refused, the pointer stays."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from projector import generations_sweep
from projector.errors import StoreFailed
from projector.generations_postgres import PostgresGenerations
from tests.postgres import LocalPostgres
from tests.support import active_generation, generation_schemas


def _waits_for_a_lock(url: str) -> bool:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).fetchone()
    return row is not None and int(row[0]) > 0


def test_the_sweep_does_not_drop_a_generation_made_active_while_it_waited(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generations_sweep, "DISCARD_LOCK_WAIT_MS", 2_000)  # (10 s: slow)
    url = postgres.create_database("sweep_moved_pointer")
    old = PostgresGenerations(url).open_active()
    old.create()
    lapsed = PostgresGenerations(url)  # its registrations expired: the sweep takes it as gone
    locked, building = lapsed.open_new(), lapsed.open_new()  # (sorted: `locked` first)
    locked.create()
    building.create()
    sweeping = PostgresGenerations(url)
    with ThreadPoolExecutor(1) as pool, psycopg.connect(url) as reader:
        reader.execute(f'SELECT count(*) FROM "{locked.schema}".items')  # noqa: S608 - ours
        future = pool.submit(sweeping.discard_abandoned)
        deadline = time.monotonic() + 10
        while not _waits_for_a_lock(url):
            assert time.monotonic() < deadline, "the sweep never waited for the locked one"
            time.sleep(0.05)
        try:  # its switch, the sweep still waiting for `locked`
            lapsed.activate(building)
            switched = True
        except StoreFailed:  # (the sweep took the row first and dropped `building`)
            switched = False
        dropped = future.result(timeout=20)
        reader.rollback()
    assert active_generation(url) in generation_schemas(url), "the active generation was dropped"
    if switched:
        assert active_generation(url) == building.schema
        assert dropped == []  # (`locked` left to a later sweep; `old` was active when listed)
    else:
        assert active_generation(url) == old.schema
        assert dropped == [building.schema]
    for store in (old, locked, building):
        store.close()


def test_a_switch_that_waited_for_a_sweep_dropping_its_generation_does_not_point_at_it(
    postgres: LocalPostgres,
) -> None:
    url = postgres.create_database("sweep_first")
    old = PostgresGenerations(url).open_active()
    old.create()
    switching = PostgresGenerations(url)
    building = switching.open_new()
    building.create()
    with ThreadPoolExecutor(1) as pool, psycopg.connect(url) as sweep:
        # The sweep's transaction, as drop_unless_active runs it: the row FOR SHARE, then DROP.
        sweep.execute("SELECT schema_name FROM public.catalog_stream_generation FOR SHARE")
        switch = pool.submit(switching.activate, building)
        deadline = time.monotonic() + 10
        while not _waits_for_a_lock(url):
            assert time.monotonic() < deadline, "the switch never waited for the row"
            time.sleep(0.05)
        sweep.execute(f'DROP SCHEMA "{building.schema}" CASCADE')
        sweep.commit()
        with pytest.raises(StoreFailed, match="was deleted"):
            switch.result(timeout=20)
    assert active_generation(url) == old.schema
    assert generation_schemas(url) == {old.schema}
    for store in (old, building):
        store.close()
