"""The view store on PostgreSQL: for several projector instances behind one database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from projector.batch import BatchPlan
from projector.errors import GenerationMoved
from projector.generations_held import (
    HANDOVER_LOCK_WAIT_MS,
    batch_limits,
    lock_wait,
    silence_limit,
)
from projector.generations_named import (
    POINTER,
    is_generation,
    names_no_generation,
    pointer_failure,
    pointer_for_share,
    row_missing,
)
from projector.postgres_service import service_parameters
from projector.rows import ITEM_COLUMNS
from projector.store import ViewStore
from projector.store_faults import transient
from projector.store_schema import schema_statements
from projector.store_write import FEED_INSERT_COLUMNS, ITEM_UPDATES, BatchWrite

# Instances starting together would race on CREATE ... IF NOT EXISTS (PostgreSQL may then fail
# one of them on a unique index of its catalog): every DDL of the views takes this lock first.
DDL_LOCK = "SELECT pg_advisory_xact_lock(7426153)"


_ITEMS = ", ".join(f'"{c}"' for c in ITEM_COLUMNS)
_FEED = ", ".join(f'"{c}"' for c in FEED_INSERT_COLUMNS)


CONNECT_TIMEOUT_S = 5
"""How long a connect waits for the database unless the store URL says (its `connect_timeout`,
libpq's parameter, e.g. `postgresql://host/db?connect_timeout=2`; at least 2 s). psycopg's own
default is 130 s: a host that took the connection and never answered (frozen, or a network
dropping the replies) held a reader's worker thread, or the consumer, that long per attempt."""


# A query on a connection already open had no limit: on a network lost without a reset (a cut
# cable, a dead host, a firewall dropping the flow) it waited for TCP's own retransmissions to
# give up, ~15 min. TCP keepalives notice a silent peer in 10 + 3 * 5 s; tcp_user_timeout (ms)
# ends the connection once data sent is unacknowledged that long. Each unless the URL, or the
# libpq service file it names, says (postgres_service).
LINK_LIMITS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def connect(url: str, **options: Any) -> psycopg.Connection[Any]:
    """A connection to the database at `url`, waiting at most its connect timeout, and its
    queries no longer than LINK_LIMITS allow a silent network (the URL's own values win, and so
    do those of the libpq service file it names: postgres_service)."""
    given = conninfo_to_dict(url)
    service = service_parameters({k: str(v) for k, v in given.items()}, os.environ)
    for name, value in {"connect_timeout": CONNECT_TIMEOUT_S, **LINK_LIMITS}.items():
        if name == "connect_timeout" and name not in service and "PGCONNECT_TIMEOUT" in os.environ:
            continue  # (libpq's next source, after the URL and the service file; psycopg's too)
        if name not in given:  # the service file's passed as it is: libpq would use it anyway,
            # and psycopg times a connect itself, from the explicit connect_timeout only (130 s)
            options.setdefault(name, service.get(name, value))
    return psycopg.connect(url, **options)


class CopyingBatchWrite(BatchWrite):
    """A batch's rows go in by COPY, not one INSERT each: psycopg's executemany binds and sends
    every row as its own statement (a fifth of the projector's time on PostgreSQL); COPY streams
    them. Items are copied into a temporary table of this connection and upserted from there in
    one statement (a batch holds each key once, as executemany's rows did); feed entries are
    copied straight into the feed, numbered in the order written."""

    def upsert_items(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        # Per transaction (a rolled-back one may have been the one that created it); emptied at
        # commit (one batch per transaction), and gone with the connection.
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS batch_items "
            "(LIKE items INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        _copy(cursor, f"COPY batch_items ({_ITEMS}) FROM STDIN", rows)
        cursor.execute(
            f"INSERT INTO items ({_ITEMS}) SELECT {_ITEMS} FROM batch_items "
            f"ON CONFLICT (catalog_id, item_id) DO UPDATE SET {ITEM_UPDATES}"
        )

    def add_changes(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        _copy(cursor, f"COPY changes ({_FEED}) FROM STDIN", rows)


def _copy(cursor: Any, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """COPY these rows. A value psycopg cannot even write as text (an integer of thousands of
    digits, from a forged record: Python refuses to make its text) is refused data, as
    executemany's DataError said: else the batch is retried as an outage, forever."""
    with cursor.copy(statement) as copy:
        for row in rows:
            try:
                copy.write_row(row)
            except (ValueError, OverflowError) as exc:
                raise psycopg.DataError(f"cannot write a value: {exc}") from exc


class PostgresStore(ViewStore):
    placeholder = "%s"
    # Two instances in one group never own a partition at once, but during a rebalance one may
    # still be writing a batch: the row lock makes the position check and the write atomic.
    lock_rows = " FOR UPDATE"
    big_integer = "BIGINT"

    def __init__(
        self, url: str, schema: str = "views", follows_pointer: bool = False, default: str = "views"
    ) -> None:
        super().__init__()
        self.url = url
        self.schema = schema  # one schema per generation of the views
        self.default_schema = default  # the first one's (generations_named: which are some)
        # The active generation's batches check that it still is (several instances: another
        # one's rebuild may move the pointer); a generation being built is not active yet.
        self.follows_pointer = follows_pointer
        self._batch_write = CopyingBatchWrite(self._sql, self.lock_rows)

    @property
    def name(self) -> str:
        return self.schema

    def check_active(self) -> None:
        """The pointer, read FOR SHARE as `write` reads it, in a transaction of its own: a switch
        under way (holding it FOR UPDATE) is waited out, and a batch after it is refused before
        it keeps dead letters or restatements (ConsumerLoop). A check, not a lock held across
        the Kafka writes that follow: a switch never waits for Kafka."""
        if not self.follows_pointer:
            return
        with self._write_lock, self._transaction() as cursor:
            self._check_pointer(cursor)

    def _check_pointer(self, cursor: Any) -> None:
        """A pointer lost (its table, its row) or naming no generation is a defect, as for a
        read (generations_named): StoreFailed, the batch not written, not retried as an outage
        for ever; with no row, no switch could wait for the batch (it holds no lock)."""
        batch_limits(cursor)  # (generations_held)
        try:
            active = pointer_for_share(cursor)
            if active is None:
                raise row_missing()
            if active != self.schema and not is_generation(cursor, self.default_schema, active):
                raise names_no_generation(active)
        except psycopg.Error as exc:
            raise pointer_failure(exc, "cannot check the active generation") from exc
        if active != self.schema:
            raise GenerationMoved(f"the active generation is now {active}, not {self.schema}")

    def write(self, topic: str, plan: BatchPlan) -> None:
        """The batch, in one transaction that first reads the pointer FOR SHARE: a switch (which
        updates it) waits for this batch, and a batch after the switch is not written here."""
        if not self.follows_pointer:
            super().write(topic, plan)
            return
        with self._write_lock, self._transaction() as cursor:
            self._check_pointer(cursor)
            self._batch_write.execute(cursor, topic, plan)

    def _connect(self) -> Any:
        return connect(self.url, options=f"-c search_path={self.schema}")

    def _replaced(self, connection: Any) -> bool:
        """The pointer, read on this reader's connection (a plain read: no switch waits for it).
        Unreadable for a moment (the database down, its table locked), it cannot tell: the read
        is one to ask again (503). Unreadable for good (its table dropped), its row gone, or
        naming no generation (generations_named), the pointer is broken too, and followed by no
        one: a defect, not a 503 retried for ever."""
        if not self.follows_pointer:
            return False  # (a generation being built: no pointer names it yet)
        try:
            row = connection.execute(f"SELECT schema_name FROM {POINTER} WHERE id = 1").fetchone()
            named = self.schema if row is None else str(row[0])  # (no row: a defect)
            moved = named != self.schema and is_generation(connection, self.default_schema, named)
            connection.commit()
        except psycopg.Error as exc:
            self._roll_back(connection)
            return transient(exc)
        return moved

    def _schema_statements(self) -> list[str]:
        return [
            # Before the DDL lock: a process frozen while it creates (or adds columns, or builds
            # the read indexes) would hold every other instance's rebuild, follow and start.
            silence_limit(),
            DDL_LOCK,
            f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"',
            *schema_statements("BIGINT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
        ]

    overriding = " OVERRIDING SYSTEM VALUE"

    def _handover_limits(self, cursor: Any) -> None:
        lock_wait(cursor, HANDOVER_LOCK_WAIT_MS)

    def _feed_sequence_follows(self, cursor: Any) -> None:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('changes', 'seq'), "
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM changes), false)"
        )

    @contextmanager
    def _reading(self, older: ViewStore) -> Iterator[str | None]:
        """Another generation in the same database is another schema of it."""
        yield (
            '"' + older.schema.replace('"', '""') + '"'
            if isinstance(older, PostgresStore) and older.url == self.url
            else None
        )

    def _columns(self, cursor: Any, table: str) -> set[str]:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            [table],
        )
        return {str(row[0]) for row in cursor.fetchall()}
