"""The tables every PostgreSQL instance shares (generations_postgres): the pointer naming the
active generation's schema, and the registry of which schemas each live instance uses.

The pointer is made once, by the first start on an empty database, naming the default schema.
Found missing later (its table dropped, its row deleted: an operator's mistake) it is a defect,
not an outage: no wait brings it back, and what it named is not known. So it is not made up again
naming the default schema, which an older generation retired long ago may have been: every
instance then followed it to an empty schema, and the generations in use were left to a sweep.
It is StoreFailed (a read answers 500, the watch says not ready, a start refuses), unless no
generation but the default one exists (then it can only name that one)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from projector.errors import StoreFailed
from projector.generations_named import (
    POINTER,
    generation_schemas,
    is_generation,
    names_no_generation,
    pointer_failure,
    row_missing,
)
from projector.postgres_store import DDL_LOCK

REGISTRY = "public.catalog_stream_instances"


def ensure_tables(connection: psycopg.Connection[Any], default_schema: str) -> None:
    """The pointer and the registry, made if this is the database's first start. The pointer
    row always exists then: a live batch always has a row to lock, so a switch waits for it.
    The default schema is made with it: the schema a pointer names always exists, unless an
    operator dropped it (generations_named)."""
    try:
        with connection.transaction():
            connection.execute(DDL_LOCK)  # (instances starting together: one makes them)
            if not _pointer_present(connection):
                _refuse_if_generations(connection, default_schema)
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {POINTER} "
                    "(id INTEGER PRIMARY KEY CHECK (id = 1), schema_name TEXT NOT NULL)"
                )
                connection.execute(
                    f"INSERT INTO {POINTER} (id, schema_name) VALUES (1, %s)",  # noqa: S608
                    (default_schema,),
                )
                schema = sql.Identifier(default_schema)
                connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {REGISTRY} "
                "(instance TEXT NOT NULL, schema_name TEXT NOT NULL, "
                "seen_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (instance, schema_name))"
            )
    except psycopg.Error as exc:
        raise pointer_failure(exc, "cannot make the generation pointer") from exc


def _pointer_present(connection: psycopg.Connection[Any]) -> bool:
    if connection.execute(f"SELECT to_regclass('{POINTER}')").fetchone() == (None,):
        return False
    found = connection.execute(f"SELECT 1 FROM {POINTER} WHERE id = 1")  # noqa: S608
    return found.fetchone() is not None


def _refuse_if_generations(connection: psycopg.Connection[Any], default_schema: str) -> None:
    found = [s for s in generation_schemas(connection, default_schema) if s != default_schema]
    if found:
        raise StoreFailed(
            f"the generation pointer ({POINTER}, its row id = 1) is missing while generations"
            f" exist ({', '.join(found)}): an operator must restore it to name the active one"
        )


def active_schema(connection: psycopg.Connection[Any], default_schema: str, lock: str = "") -> str:
    """The schema the pointer names; `lock`: " FOR UPDATE" for a switch (in its transaction).
    One it may not name (generations_named) is a broken pointer too: StoreFailed."""
    try:
        read = f"SELECT schema_name FROM {POINTER} WHERE id = 1{lock}"  # noqa: S608
        row = connection.execute(read).fetchone()
        if row is None:
            raise row_missing()
        schema = str(row[0])
        if not is_generation(connection, default_schema, schema):
            raise names_no_generation(schema)
    except psycopg.Error as exc:
        raise pointer_failure(exc, "cannot read the generation pointer") from exc
    return schema


def register(
    connection: psycopg.Connection[Any], instance: str, using: Iterable[str], default_schema: str
) -> None:
    """Store the generations `instance` uses (a heartbeat), in place of what it said before.
    The registry dropped (an operator's mistake) is made again here: it is housekeeping, not
    the pointer, and every instance's heartbeat failing on it made each one not ready at once
    until a sweep (minutes later) made it. psycopg's errors, unwrapped."""
    for attempt in range(2):
        try:
            with connection.transaction():
                connection.execute(f"DELETE FROM {REGISTRY} WHERE instance = %s", (instance,))  # noqa: S608
                for schema in sorted(set(using)):
                    connection.execute(
                        f"INSERT INTO {REGISTRY} (instance, schema_name) VALUES (%s, %s)",  # noqa: S608
                        (instance, schema),
                    )
            return
        except psycopg.errors.UndefinedTable:
            if attempt:
                raise
            ensure_tables(connection, default_schema)  # (a pointer lost too: StoreFailed)


def point_at(connection: psycopg.Connection[Any], schema: str) -> None:
    """Move the pointer, in the caller's transaction; psycopg's errors, unwrapped. Never to a
    schema that is gone: a sweep that took the generation for unused (its instance's heartbeats
    lapsed) may have read the row FOR SHARE first and dropped it while this waited for the row;
    the pointer then named a dropped schema, every instance's views gone (StoreFailed instead:
    the pointer stays)."""
    connection.execute(f"SELECT 1 FROM {POINTER} WHERE id = 1 FOR UPDATE")  # noqa: S608
    # A statement of its own, once the row is ours: READ COMMITTED sees a drop committed before.
    there = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
    if connection.execute(there, (schema,)).fetchone() is None:
        raise StoreFailed(f"the generation {schema} was deleted: the views not switched to it")
    connection.execute(f"UPDATE {POINTER} SET schema_name = %s WHERE id = 1", (schema,))  # noqa: S608
