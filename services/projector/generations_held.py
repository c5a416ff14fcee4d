"""The pointer row a PostgreSQL switch holds FOR UPDATE (generations_postgres): every instance's
live batch waits for it, so it must not outlive the switching process's ability to finish. A
process stopped, frozen or cut off from the database leaves its connection idle in its
transaction, and the database would keep the row for ever (it cannot tell a silent client from
a slow one; a stopped process's host still answers TCP). So the switch says every second on
that connection that it is alive, and the database ends the session after a silence.

A live batch holds the row too (FOR SHARE, postgres_store), and so does a drop: the idle limits
of the holders are here, each kind set by one function (hold_limits; batch_limits, for both
holders FOR SHARE) through one rule (_silence_limit)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

# How long a switch waits for live batches to leave the pointer row: a stopped instance's open
# batch would hold it for ever, and the switching instance's live consumer waits meanwhile.
SWITCH_LOCK_WAIT = "30s"
# How long the held row survives a silent switch (it says it is alive every SAY_ALIVE_S).
SWITCH_SILENCE_LIMIT = "15s"
SAY_ALIVE_S = 1.0
BATCH_SILENCE_LIMIT = "10s"
"""How long a live batch's transaction, which holds the pointer row FOR SHARE, may stay idle
between its statements before the database ends its session (for that transaction only). A
frozen instance (SIGSTOP, a host cut off) held the row, and so every other instance's switch,
for as long as it was frozen: a switch waits SWITCH_LOCK_WAIT for the row, then fails. A running
batch is idle only while this process builds the next statement's rows from a plan already
made (milliseconds); a batch ended this way fails at its next statement or its commit, is not
applied, and is retried from the stored positions, as after any store outage."""


HANDOVER_LOCK_WAIT_MS = 10_000
"""How long a switch's handover (store_handover: the old generation's feed and debts, copied
under the held pointer row) waits for a lock on either generation's tables. Only another
session's DDL or maintenance (an ALTER, a VACUUM FULL, a LOCK TABLE) holds one that long, and
every instance's live batches wait for the row meanwhile: the switch fails instead (the views
not switched, the rebuild to start again)."""
DISCARD_LOCK_WAIT_MS = 10_000
"""How long dropping a generation waits for a lock (its tables, the pointer row, the DDL lock).
A reader of a retired generation holds its tables for one query; a session that holds them
longer would hold a failed rebuild's end, or the process's stop, for as long: the drop fails
instead, and a later sweep drops the generation."""


def lock_wait(executor: Any, limit_ms: int) -> None:
    """In the caller's transaction (SET LOCAL): no lock waited for longer than `limit_ms`, or
    than the session's own lock_timeout if that is shorter (an operator's stricter setting)."""
    executor.execute(
        "SELECT set_config('lock_timeout', %(limit)s, true) FROM pg_settings "
        "WHERE name = 'lock_timeout' AND (setting::bigint = 0 OR setting::bigint > %(ms)s)",
        {"limit": f"{limit_ms}ms", "ms": limit_ms},
    )


def hold_limits(connection: psycopg.Connection[Any]) -> None:
    """In the switch's transaction: bounded waits for the row, and no silence held for long."""
    connection.execute(f"SET LOCAL lock_timeout = '{SWITCH_LOCK_WAIT}'")
    _silence_limit(connection, SWITCH_SILENCE_LIMIT)


def batch_limits(executor: Any) -> None:
    """In a transaction that holds the pointer row FOR SHARE (`executor`: a psycopg cursor or
    connection): no silence held for long. A live batch's (postgres_store), and a drop's
    (discard, generations_sweep), which holds the DDL lock and the dropped tables too: a process
    frozen in either held every other instance's switch (and, in a drop, rebuild, follow and
    start) for as long."""
    _silence_limit(executor, BATCH_SILENCE_LIMIT)


def silence_limit(limit: str = BATCH_SILENCE_LIMIT) -> str:
    """The statement: the database ends the session once its transaction is idle for `limit`
    (SET LOCAL: this transaction only; the connection's next one has no limit)."""
    return f"SET LOCAL idle_in_transaction_session_timeout = '{limit}'"


def _silence_limit(executor: Any, limit: str) -> None:
    executor.execute(silence_limit(limit))


@contextmanager
def said_alive(connection: psycopg.Connection[Any]) -> Iterator[None]:
    """While the block runs, a thread sends a no-op on `connection` every SAY_ALIVE_S: idle in
    its transaction only between those, it is not ended while this process runs (however long
    the switch's own steps take on other connections: the builder's last records, the feed's
    copy). A thread, not the event loop: a loop busy for a while does not end the switch. Once
    a no-op fails, the session is gone and so is the row: the switch fails at `activate`."""
    stop = threading.Event()

    def say() -> None:
        while not stop.wait(SAY_ALIVE_S):
            try:
                connection.execute("SELECT 1")  # (psycopg serialises it with the switch's own)
            except psycopg.Error:
                return

    thread = threading.Thread(target=say, name="projector-switch-alive", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(SAY_ALIVE_S)  # (a no-op stuck on a cut connection is left to end with it)
