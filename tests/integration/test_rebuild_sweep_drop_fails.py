"""On a real PostgreSQL (no broker: no live consumer): the sweep at a projector's start, which
drops the generations no live instance uses, is housekeeping. A DROP the database refuses for a
reason other than a lock not granted in time (here: an operator's event trigger refusing it)
leaves that generation to a later sweep, logged once with its name; the others are dropped and
the projector starts. Before, the refusal's psycopg error escaped unwrapped and the start
failed, on every restart, until an operator removed the generation by hand."""

from __future__ import annotations

import logging

import psycopg
import pytest
from psycopg import sql

from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import generation_schemas


def _refuse_dropping(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            sql.SQL(
                "CREATE FUNCTION refuse_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
                "DECLARE dropped record; BEGIN "
                "FOR dropped IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP "
                "IF dropped.object_type = 'schema' AND dropped.object_name = {schema} THEN "
                "RAISE EXCEPTION 'kept by the operator'; END IF; END LOOP; END $$"
            ).format(schema=sql.Literal(schema))
        )
        connection.execute("CREATE EVENT TRIGGER refuse ON sql_drop EXECUTE FUNCTION refuse_drop()")


async def test_a_drop_the_database_refuses_does_not_fail_the_start(
    postgres: LocalPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres.create_database("sweep_drop_refused")
    active = PostgresGenerations(url).open_active()
    active.create()
    killed = PostgresGenerations(url)  # two rebuilds whose process was killed
    refused, free = killed.open_new(), killed.open_new()
    for store in (refused, free):
        store.create()
        store.close()
    _refuse_dropping(url, refused.schema)
    caplog.set_level(logging.WARNING)
    generations = PostgresGenerations(url)
    async with projector_in_process(ProjectorSettings(), generations, False) as (runtime, client):
        assert runtime.store.name == active.name
        assert (await client.get("/v1/catalogs")).status_code == 200
    assert generation_schemas(url) == {active.name, refused.name}
    told = [r for r in caplog.records if getattr(r, "generation", None) == refused.name]
    assert len(told) == 1, [r.getMessage() for r in told]
    assert told[0].levelno == logging.WARNING
    assert "kept by the operator" in told[0].getMessage()
    active.close()
