"""On a real PostgreSQL: the sweep that drops generations no live instance uses (at every start,
and every 5 minutes on a running instance) waits a bounded time for a lock on one of them, then
leaves that one to a later sweep and drops the others. Before, it had no lock timeout: behind a
session holding one of their tables (here: a read whose transaction was never ended, as an
operator's psql looking at a half-built generation leaves it) it waited for as long, and a
projector starting then never started."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillWaiting

import psycopg
import pytest

from projector.generations_postgres import PostgresGenerations
from tests.postgres import LocalPostgres
from tests.support import generation_schemas

BOUND_S = 25.0  # the wait is 10 s (generations_held.DISCARD_LOCK_WAIT_MS)


def test_a_sweep_leaves_a_locked_generation_and_drops_the_others(postgres: LocalPostgres) -> None:
    url = postgres.create_database("sweep_lock_wait")
    active = PostgresGenerations(url).open_active()
    active.create()
    killed = PostgresGenerations(url)  # two rebuilds whose process was killed
    locked, free = killed.open_new(), killed.open_new()
    locked.create()
    free.create()
    starting = PostgresGenerations(url)
    with ThreadPoolExecutor(1) as pool, psycopg.connect(url) as reader:
        reader.execute(f'SELECT count(*) FROM "{locked.schema}".items')  # noqa: S608 - ours
        started = time.monotonic()
        future = pool.submit(starting.discard_abandoned)
        try:
            dropped = future.result(timeout=BOUND_S)
        except StillWaiting:
            pytest.fail(f"the sweep still waits for the lock after {BOUND_S} s")
        finally:
            reader.rollback()
        assert time.monotonic() - started < BOUND_S
    assert dropped == [free.name]
    assert generation_schemas(url) == {active.name, locked.name}
    assert starting.discard_abandoned() == [locked.name]  # the next sweep, the lock gone
    for store in (active, locked, free):
        store.close()
