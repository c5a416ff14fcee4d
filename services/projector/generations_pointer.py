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

import re
from collections.abc import Iterable
from typing import Any

import psycopg

from projector.errors import StoreFailed, StoreUnavailable
from projector.postgres_store import DDL_LOCK, POINTER
from projector.store_faults import transient

REGISTRY = "public.catalog_stream_instances"


def generation_names(default_schema: str) -> re.Pattern[str]:
    """The schemas that are generations: the default one, and those a rebuild made."""
    return re.compile(rf"^{re.escape(default_schema)}(_\d+)?$")


def ensure_tables(connection: psycopg.Connection[Any], default_schema: str) -> None:
    """The pointer and the registry, made if this is the database's first start. The pointer
    row always exists then: a live batch always has a row to lock, so a switch waits for it."""
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
    generation = generation_names(default_schema)
    found = sorted(
        str(r[0])
        for r in connection.execute("SELECT nspname FROM pg_namespace").fetchall()
        if generation.match(str(r[0])) and str(r[0]) != default_schema
    )
    if found:
        raise StoreFailed(
            f"the generation pointer ({POINTER}, its row id = 1) is missing while generations"
            f" exist ({', '.join(found)}): an operator must restore it to name the active one"
        )


def active_schema(connection: psycopg.Connection[Any], default_schema: str, lock: str = "") -> str:
    """The schema the pointer names; `lock`: " FOR UPDATE" for a switch (in its transaction).
    One that is no generation, or that does not exist, is a broken pointer too (an operator's
    typo restoring it): followed, every instance made it an empty generation, and a sweep then
    dropped the one they had served. Only the default one may not exist yet (a first start,
    before its tables are made)."""
    try:
        read = f"SELECT schema_name FROM {POINTER} WHERE id = 1{lock}"  # noqa: S608
        row = connection.execute(read).fetchone()
        if row is None:
            raise StoreFailed(f"the generation pointer ({POINTER}, its row id = 1) is missing")
        schema = str(row[0])
        exists = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
        if not generation_names(default_schema).match(schema) or (
            schema != default_schema and connection.execute(exists, (schema,)).fetchone() is None
        ):
            raise StoreFailed(
                f"the generation pointer ({POINTER}) names {schema!r}, which is no generation"
                " of this database: an operator must restore it to name the active one"
            )
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
    """Move the pointer (in the caller's transaction, if any); psycopg's errors, unwrapped."""
    connection.execute(f"UPDATE {POINTER} SET schema_name = %s WHERE id = 1", (schema,))  # noqa: S608


def pointer_failure(exc: psycopg.Error, doing: str) -> StoreUnavailable:
    """The error for a failed use of the shared tables: StoreFailed if no retry mends it (a
    table dropped: the pointer's, the registry's), else StoreUnavailable (the database down, a
    lock not granted in time)."""
    kind = StoreUnavailable if transient(exc) else StoreFailed
    return kind(f"{doing}: the generation pointer or registry cannot be used: {exc}")
