"""Dropping PostgreSQL generations (generations_postgres): one a rebuild failed or a switch
retired (`drop_unless_active`), and those the sweep found unused (`drop_each`). Never the one
the pointer names: it is read FOR SHARE in the DROP's transaction, so no switch moves it there
between the check and the DROP. The sweep is housekeeping: a generation it cannot drop is left
to a later sweep, and the start (or the running instance) goes on."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from projector.generations_held import DISCARD_LOCK_WAIT_MS, batch_limits, lock_wait
from projector.generations_named import generation_names, pointer_for_share

log = logging.getLogger(__name__)


def drop_unless_active(
    connection: psycopg.Connection[Any], schema: str, default_schema: str
) -> bool:
    """In the caller's transaction: drop `schema` unless the pointer names it (then False).
    Only a generation (generations_named): never another schema of the database."""
    if pointer_for_share(connection) == schema:
        return False
    if not generation_names(default_schema).match(schema):
        raise ValueError(f"refusing to drop schema {schema!r}: no generation")
    connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return True


def drop_each(
    connection: psycopg.Connection[Any], found: list[str], default_schema: str
) -> list[str]:
    """Drop each of `found` (unused when listed), each in its own transaction after a bounded
    wait for its locks; returns those dropped. One that fails is logged with its name and left
    to a later sweep; once the connection is lost, the rest are too."""
    dropped = []
    for schema in found:
        try:
            with connection.transaction():
                lock_wait(connection, DISCARD_LOCK_WAIT_MS)  # (a start waits for it)
                batch_limits(connection)
                # The lists are as old as the waits before this one: a switch since may have
                # made it active (checked FOR SHARE).
                if not drop_unless_active(connection, schema, default_schema):
                    continue
        except psycopg.errors.LockNotAvailable:
            log.warning(
                "an unused generation stays locked by another session; a later sweep deletes it",
                extra={"generation": schema},
            )
            continue
        except psycopg.Error as exc:  # (an operator's event trigger, a privilege, an outage)
            log.warning(
                "could not delete an unused generation; a later sweep tries again: %s",
                exc,
                extra={"generation": schema},
            )
            if connection.closed:
                break  # (the others would each fail the same way: the next sweep)
            continue
        dropped.append(schema)
    return dropped
