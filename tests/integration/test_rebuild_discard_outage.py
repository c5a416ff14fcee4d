"""On a real PostgreSQL: dropping a failed rebuild's generation may fail too (the same outage,
often). Before, `PostgresGenerations.discard` let psycopg's own error out unwrapped once it had
connected (here: a lock it waits for past the database's lock_timeout, as in a database too busy to
answer), and that error, not the rebuild's own failure, was what the rebuild raised. Now it is
the package's StoreUnavailable (`from` psycopg's), and the rebuild raises its own failure, the
reason its status reports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from projector.app import create_app
from projector.errors import StoreUnavailable
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import DDL_LOCK
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import eventually


def _impatient(postgres: LocalPostgres, database: str) -> str:
    """A database whose sessions wait 300 ms at most for a lock."""
    url = postgres.create_database(database)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"ALTER DATABASE {database} SET lock_timeout = '300ms'")
    return url


@contextmanager
def _ddl_held(url: str) -> Iterator[None]:
    """Another session holds the views' DDL lock: every statement of the generations' registry
    waits for it, past the lock timeout (psycopg's OperationalError, LockNotAvailable)."""
    with psycopg.connect(url) as other:
        other.execute(DDL_LOCK)
        yield
        other.rollback()


def test_a_failed_discard_is_the_stores_error(postgres: LocalPostgres) -> None:
    url = _impatient(postgres, "discard_outage")
    generations = PostgresGenerations(url)
    generations.open_active().close()
    fresh = generations.open_new()
    with _ddl_held(url), pytest.raises(StoreUnavailable) as raised:
        generations.discard(fresh)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError), raised.value.__cause__


async def test_a_rebuild_whose_discard_fails_raises_its_own_failure(
    postgres: LocalPostgres,
) -> None:
    url = _impatient(postgres, "discard_outage_rebuild")
    app = create_app(ProjectorSettings(store_url=url), PostgresGenerations(url), False)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        with _ddl_held(url):
            assert runtime.start_rebuild()
            task = runtime._rebuild
            await eventually(task.done, timeout_s=30)
        status = runtime.rebuild_status
        assert status.state == "failed", status
        failure = task.exception()
        assert not isinstance(failure, psycopg.Error), repr(failure)
        assert str(failure) == status.error, (failure, status)
