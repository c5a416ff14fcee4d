"""What the generation pointer names, and whether that is a generation of this database: one
rule for every reader of the pointer (generations_pointer: a start, a heartbeat, a switch, a
sweep; postgres_store: a live batch, a read whose table is missing).

A pointer naming a schema that is no generation (not one of their names), or one that does not
exist, is broken: an operator's mistake restoring it. Followed, every instance made it an empty
generation, and a sweep then dropped the one they had served. The default schema is no
exception once another generation exists: it is made with the pointer (ensure_tables), so it is
missing only if a switch retired it and a sweep dropped it, and a pointer restored to it then
is the same mistake. While no other generation exists it may be missing: a database whose first
start made the pointer and not yet the views (an older release made the schema with its tables
only)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from projector.errors import StoreFailed, StoreUnavailable
from projector.store_faults import transient

POINTER = "public.catalog_stream_generation"  # names the active schema (generations_postgres)


def generation_names(default_schema: str) -> re.Pattern[str]:
    """The schemas that are generations: the default one, and those a rebuild made."""
    return re.compile(rf"^{re.escape(default_schema)}(_\d+)?\Z")


def schema_exists(executor: Any, name: str) -> bool:
    """Whether the database has a schema `name`. `executor`: a psycopg cursor or connection."""
    found = executor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,))
    return found.fetchone() is not None


def generation_schemas(executor: Any, default_schema: str) -> list[str]:
    """The generations the database has, by name."""
    names = generation_names(default_schema)
    rows = executor.execute("SELECT nspname FROM pg_namespace ORDER BY nspname").fetchall()
    return [str(r[0]) for r in rows if names.match(str(r[0]))]


def is_generation(executor: Any, default_schema: str, schema: str) -> bool:
    """Whether the pointer may name `schema` (the module's rule)."""
    if not generation_names(default_schema).match(schema):
        return False
    if schema_exists(executor, schema):
        return True
    return schema == default_schema and not generation_schemas(executor, default_schema)


def names_no_generation(schema: str) -> StoreFailed:
    return StoreFailed(
        f"the generation pointer ({POINTER}) names {schema!r}, which is no generation"
        " of this database: an operator must restore it to name the active one"
    )


def row_missing() -> StoreFailed:
    return StoreFailed(f"the generation pointer ({POINTER}, its row id = 1) is missing")


def pointer_for_share(executor: Any) -> str | None:
    """The schema the pointer names (None: no pointer row), read FOR SHARE in the caller's
    transaction: a switch under way (FOR UPDATE) is waited out, and no switch moves the pointer
    until that transaction ends. `executor`: a psycopg cursor or connection."""
    read = f"SELECT schema_name FROM {POINTER} WHERE id = 1 FOR SHARE"  # noqa: S608
    row = executor.execute(read).fetchone()
    return None if row is None else str(row[0])


def pointer_failure(exc: psycopg.Error, doing: str) -> StoreUnavailable:
    """The error for a failed use of the shared tables: StoreFailed if no retry mends it (a
    table dropped: the pointer's, the registry's), else StoreUnavailable (the database down, a
    lock not granted in time)."""
    kind = StoreUnavailable if transient(exc) else StoreFailed
    return kind(f"{doing}: the generation pointer or registry cannot be used: {exc}")
