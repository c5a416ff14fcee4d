"""Through the read API, on each kind of real store: a read the store rejects for a reason no
retry mends (a defect: here the table it reads is gone, as a wrong statement would be) is a 500
problem+json that names nothing internal, logged once at ERROR with its traceback. Before, it was
a 503 "retry" with Retry-After, never logged, that clients retried for ever. A read that fails
for a moment (here: a lock not granted in time) stays a 503 with Retry-After."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import pytest

from projector.generations import Generations
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process


def _break(store: object) -> None:
    """Another process renames the table the catalogs are read from."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as connection:
            connection.execute("ALTER TABLE catalogs RENAME TO catalogs_gone")
    else:
        assert isinstance(store, PostgresStore)
        with psycopg.connect(store.url, autocommit=True) as connection:
            connection.execute(f'ALTER TABLE "{store.schema}".catalogs RENAME TO catalogs_gone')


async def test_a_read_the_store_rejects_is_a_logged_500(
    generations: Generations, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with projector_in_process(ProjectorSettings(), generations, False) as (runtime, client):
        assert (await client.get("/v1/catalogs")).status_code == 200
        _break(runtime.store)
        caplog.clear()
        answer = await client.get("/v1/catalogs")
    assert answer.status_code == 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in answer.headers
    problem = answer.json()
    assert (problem["status"], problem["title"]) == (500, "Internal error"), problem
    assert "catalogs" not in answer.text, answer.text  # nothing of the statement or the table
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].exc_info is not None
    assert "catalogs_gone" not in logged[0].getMessage()  # (the path only)
    assert "catalogs" in str(logged[0].exc_info[1]), logged[0].exc_info


async def test_a_read_that_fails_for_a_moment_stays_a_503(postgres: LocalPostgres) -> None:
    url = postgres.create_database("read_for_a_moment")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ALTER DATABASE read_for_a_moment SET lock_timeout = '300ms'")
    generations = PostgresGenerations(url)
    async with projector_in_process(ProjectorSettings(), generations, False) as (runtime, client):
        store = runtime.store
        assert isinstance(store, PostgresStore)
        with psycopg.connect(url) as other:  # a migration holding the table a moment
            other.execute(f'LOCK TABLE "{store.schema}".catalogs IN ACCESS EXCLUSIVE MODE')
            answer = await client.get("/v1/catalogs")
            other.rollback()
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert (await client.get("/v1/catalogs")).status_code == 200
