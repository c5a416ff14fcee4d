"""The view store: items, catalogs, the change feed and consumed offsets, in one database.

A batch is written in one transaction together with the offsets it reached, so after a crash
the views and the offsets agree and the projector resumes exactly where the views stop.
The SQL is written once; `SqliteStore` (sqlite_store.py) and `PostgresStore` (postgres_store.py)
differ only in types and driver. The tables are in store_schema.py, the write transaction in
store_write.py, the reads in store_reads.py, a batch's read-back in store_read_back.py, a new
generation's takeover in store_handover.py, the owed restatements' reads and settlement in
store_owed.py.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from projector.batch import BatchPlan
from projector.errors import (
    GenerationMoved,
    PositionConflict,
    StoreFailed,
    StoreRefused,
    StoreUnavailable,
)
from projector.store_connections import ThreadConnections
from projector.store_faults import missing_relation, transient
from projector.store_handover import GenerationHandover
from projector.store_owed import OwedRestatements
from projector.store_read_back import ItemReadBack
from projector.store_reads import StoreReads
from projector.store_schema import INDEX_STATEMENTS, added_columns
from projector.store_write import BatchWrite

log = logging.getLogger(__name__)


def refuses_data(exc: BaseException) -> bool:
    """A value the database cannot hold (e.g. a NUL character in PostgreSQL text, an integer
    beyond 64 bits): the same batch would fail forever, unlike a lost connection. DB-API 2.0
    names these DataError and IntegrityError in every driver (sqlite3, psycopg)."""
    if isinstance(exc, OverflowError):
        return True
    return any(kind.__name__ in ("DataError", "IntegrityError") for kind in type(exc).__mro__)


class ViewStore(StoreReads, ItemReadBack, GenerationHandover, OwedRestatements, ABC):
    """Writes come from one consumer task; reads from any thread (each has its connection)."""

    placeholder = "?"
    lock_rows = ""  # " FOR UPDATE" where the database has it

    def __init__(self) -> None:
        self._connections = ThreadConnections(self._open_connection)  # (one per thread)
        self._write_lock = threading.Lock()
        self._batch_write = BatchWrite(self._sql, self.lock_rows)
        # Set when a rebuild's switch replaced this generation (GenerationFollower.retire): a
        # reader still on it may find it closed or dropped, which asked again (on the new
        # generation) answers, so no failure here is a defect.
        self.retired = False

    @property
    @abstractmethod
    def name(self) -> str:
        """Which generation of the views this is: its file's or its schema's name."""

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def _schema_statements(self) -> list[str]: ...

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _open_connection(self) -> Any:
        if self.retired:  # (closed, maybe dropped: a connection opened now would leak)
            raise StoreUnavailable("this generation of the views was replaced: ask again")
        try:
            return self._connect()
        except Exception as exc:  # the database down or refusing: as a failed query
            raise StoreUnavailable(f"cannot connect to the view store: {exc}") from exc

    @contextmanager
    def _connected(self) -> Iterator[Any]:
        """This thread's connection, which `close` leaves open until this use ends."""
        held = self._connections.acquire()
        try:
            yield held.connection
        finally:
            self._connections.release(held)

    @property
    def _opened(self) -> list[Any]:
        """The connections open now, every thread's (tests look at them)."""
        return self._connections.opened()

    def _read_failure(self, exc: Exception, connection: Any) -> StoreUnavailable:
        """The store's error for a failed read (on `connection`, rolled back): StoreFailed if
        asking again never helps. A table missing is such a defect, unless another instance's
        switch dropped this generation under its readers (it took this instance as gone: its
        heartbeats had not reached the database for the registry's expiry): asked again, once
        this instance follows the pointer, the read answers, as after a switch of its own."""
        again = self.retired or transient(exc)
        if not again and missing_relation(exc):
            again = self._replaced(connection)
        return (StoreUnavailable if again else StoreFailed)(f"view store query failed: {exc}")

    def _replaced(self, connection: Any) -> bool:
        """Whether the pointer names another generation than this one, read on `connection`
        (PostgresStore); one process per SQLite store drops nothing under its own readers."""
        return False

    def _roll_back(self, connection: Any) -> bool:
        """Undo what failed; False if the connection was dropped. A rollback that fails itself
        means the database dropped the connection (a restart, a network cut): it is forgotten,
        so this thread's next use opens a new one; kept, it failed every later use, and its
        error escaped the store unwrapped."""
        try:
            connection.rollback()
        except Exception:
            self._connections.forget(connection)
            return False
        return True

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._connected() as connection:
            try:
                cursor = connection.cursor()
                yield cursor
                connection.commit()
            except (PositionConflict, GenerationMoved, StoreFailed):  # (StoreFailed: a defect)
                self._roll_back(connection)
                raise
            except Exception as exc:
                self._roll_back(connection)
                if refuses_data(exc):
                    raise StoreRefused(f"view store refused the data: {exc}") from exc
                raise StoreUnavailable(f"view store transaction failed: {exc}") from exc

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # (No _connected: the read API's hot path, its generator's cost spared)
        connections = self._connections
        for retry in (True, False):
            held = connections.acquire()
            try:
                connection = held.connection
                try:
                    cursor = connection.cursor()
                    cursor.execute(self._sql(statement), params)
                    rows = list(cursor.fetchall())
                    connection.commit()  # end the read snapshot
                except Exception as exc:
                    # A read on a connection the database dropped since its last use (a
                    # restart) is asked once more on a new one: the reader would see the old
                    # outage.
                    if not self._roll_back(connection) and retry:
                        continue
                    if refuses_data(exc):  # a value asked for (a NUL in an id): not an outage
                        raise StoreRefused(f"view store refused a value: {exc}") from exc
                    raise self._read_failure(exc, connection) from exc
                return rows
            finally:
                connections.release(held)
        raise AssertionError("unreachable: the second try returns or raises")

    big_integer = "INTEGER"

    @abstractmethod
    def _columns(self, cursor: Any, table: str) -> set[str]: ...

    def create(self, indexes: bool = True) -> None:
        """Create the tables, or add the columns a newer schema version brought; and the read
        API's indexes, unless `indexes` is False (a rebuild's load: it creates them after)."""
        with self._write_lock, self._transaction() as cursor:
            for statement in self._schema_statements():
                cursor.execute(statement)
            for statement in INDEX_STATEMENTS if indexes else ():
                cursor.execute(statement)
            items, removals = self._columns(cursor, "items"), self._columns(cursor, "removals")
            for statement in added_columns(items, removals, self.big_integer):
                cursor.execute(statement)

    # --- writing -------------------------------------------------------------------------

    def positions(self, topic: str) -> dict[int, int]:
        rows = self._query('SELECT "partition", next_offset FROM offsets WHERE topic = ?', [topic])
        return {int(p): int(o) for p, o in rows}

    def behind(self, topic: str) -> dict[int, tuple[int, int]]:
        """The partitions said behind these views: partition -> (the views' position, the end).
        None without the table (an older version's generation: else neither positioned nor
        rebuilt); a store that may answer later raises (StoreUnavailable: taken for none said, a
        refilled topic was applied past the views, test_attack36_behind_unreadable)."""
        try:
            rows = self._query(
                'SELECT "partition", views_at, topic_ends_at FROM behind WHERE topic = ?', [topic]
            )
        except StoreFailed as exc:
            log.warning("the partitions found behind the views cannot be read: %s", exc)
            return {}
        return {int(p): (int(at), int(end)) for p, at, end in rows}

    def say_behind(self, topic: str, partition: int, views_at: int, topic_ends_at: int) -> None:
        """Keep that `partition` is behind these views (the first finding stays)."""
        with self._write_lock, self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    'INSERT INTO behind (topic, "partition", views_at, topic_ends_at) '
                    'VALUES (?, ?, ?, ?) ON CONFLICT (topic, "partition") DO NOTHING'
                ),
                [topic, partition, views_at, topic_ends_at],
            )

    def check_active(self) -> None:
        """Raise GenerationMoved if another instance switched the views away from this store
        (PostgresStore: the pointer); one store per process (SQLite) is never switched under a
        running batch, so nothing to check."""

    def write(self, topic: str, plan: BatchPlan) -> None:
        """Everything a batch changed, and the offsets it reached, in one transaction."""
        with self._write_lock, self._transaction() as cursor:
            self._batch_write.execute(cursor, topic, plan)

    def prune_changes(self, keep: int) -> int:
        """Delete all but the newest `keep` changes of the feed; returns how many went."""
        with self._write_lock, self._transaction() as cursor:
            cursor.execute(
                self._sql("DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?"),
                (keep,),
            )
            return max(0, int(cursor.rowcount))

    def last_change_seq(self) -> int:
        """The newest change's seq (0: none), where the status page's live feed starts."""
        rows = self._query("SELECT MAX(seq) FROM changes")
        return int(rows[0][0] or 0)

    def close(self) -> None:
        """Close every thread's connection: at once where no statement runs on it, else by its
        thread once its statement ends (store_connections.py); never waits. A thread that
        reads again reconnects (a store `retired` refuses it: StoreUnavailable)."""
        self._connections.close()
