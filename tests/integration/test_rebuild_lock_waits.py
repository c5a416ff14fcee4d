"""On a real PostgreSQL: the generations' steps that take locks on another generation's tables
wait for them a bounded time, then fail as the store's StoreUnavailable. Before, neither had a
lock timeout (unless the database set one) and each waited for as long as the lock was held:
- discarding a generation (a failed rebuild's, a retired one) behind a session that reads it
  and never ends its transaction: the rebuild's failure path, or Runtime.stop, hung;
- the switch's handover of the old feed and debts (continue_feed_of, continue_owed_of) behind a
  lock on the old generation's tables (an operator's ALTER, VACUUM FULL, LOCK TABLE): it waited
  holding the pointer row, so every instance's live batches waited too, for ever.
Through the real broker, a rebuild whose switch meets that lock fails, its error saying so, and
the pointer stays where it was."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillWaiting
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projector.errors import StoreUnavailable
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from tests.factories import change
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import (
    Topics,
    active_generation,
    eventually,
    produce_events,
    projector_settings,
)

BOUND_S = 25.0  # each wait is 10 s (generations_held); far less than for ever


@contextmanager
def _held(url: str, statement: str) -> Iterator[None]:
    """Another session takes a lock and keeps its transaction open until the block ends."""
    with psycopg.connect(url) as other:
        other.execute(statement)
        try:
            yield
        finally:
            other.rollback()


def _ends_in_bounded_time(step: Callable[[], Any], url: str, lock: str) -> StoreUnavailable:
    """`step`'s error, raised while `lock` is held; the lock is let go after BOUND_S (on the
    code before, only that ended the step)."""
    with ThreadPoolExecutor(1) as pool, _held(url, lock):
        started = time.monotonic()
        future = pool.submit(step)
        try:
            error = future.exception(timeout=BOUND_S)
        except StillWaiting:
            pytest.fail(f"still waiting for the lock after {BOUND_S} s")
        elapsed = time.monotonic() - started
    assert isinstance(error, StoreUnavailable), repr(error)
    assert elapsed < BOUND_S
    return error


def _two_generations(url: str) -> tuple[PostgresGenerations, PostgresStore, PostgresStore]:
    generations = PostgresGenerations(url)
    old = generations.open_active()
    old.create()
    fresh = generations.open_new()
    fresh.create()
    return generations, old, fresh


def test_a_discard_behind_a_reader_that_never_ends_fails(postgres: LocalPostgres) -> None:
    url = postgres.create_database("lock_waits_discard")
    generations, old, fresh = _two_generations(url)
    reading = f'SELECT count(*) FROM "{fresh.schema}".items'  # noqa: S608 - ours; left open
    error = _ends_in_bounded_time(lambda: generations.discard(fresh), url, reading)
    assert "lock" in str(error), error
    generations.discard(fresh)  # the lock gone, it drops
    old.close()


@pytest.mark.parametrize("table", ["changes", "owed_restatements"])
def test_a_handover_behind_a_lock_on_the_old_generation_fails(
    postgres: LocalPostgres, table: str
) -> None:
    url = postgres.create_database(f"lock_waits_{table}")
    _, old, fresh = _two_generations(url)

    def handover() -> None:
        fresh.continue_feed_of(old, {0: 0})
        fresh.continue_owed_of(old)

    lock = f'LOCK TABLE "{old.schema}".{table} IN ACCESS EXCLUSIVE MODE'
    error = _ends_in_bounded_time(handover, url, lock)
    assert "lock timeout" in str(error), error
    handover()  # the lock gone, it works
    old.close()
    fresh.close()


@pytest.mark.broker
async def test_a_switch_behind_a_lock_on_the_old_feed_fails_the_rebuild(
    kafka_bootstrap: str, topics: Topics, postgres: LocalPostgres, tmp_path: Path
) -> None:
    url = postgres.create_database("lock_waits_rebuild")
    await produce_events(kafka_bootstrap, topics.product, [change("a", "c", price="1.00")])
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db", store_url=url)
    generations = PostgresGenerations(url)
    async with projector_in_process(settings, generations) as (runtime, client):
        await eventually(lambda: runtime.store.catalogs())
        old = runtime.store.name
        with _held(url, f'LOCK TABLE "{old}".changes IN ACCESS EXCLUSIVE MODE'):
            assert runtime.start_rebuild()
            await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=60)
        status = runtime.rebuild_status
        assert status.state == "failed", status
        assert "lock timeout" in (status.error or ""), status
        assert active_generation(url) == old
        assert runtime.store.name == old
        assert (await client.get("/v1/catalogs")).status_code == 200
