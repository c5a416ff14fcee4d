"""The view store: items, catalogs, the change feed and consumed offsets, in one database.

A batch is written in one transaction together with the offsets it reached, so after a crash
the views and the offsets agree and the projector resumes exactly where the views stop.
The SQL is written once; `SqliteStore` and `PostgresStore` differ only in types and driver.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from catalog_contract.item_fields import FieldKind
from projector.batch import BatchPlan, ItemKey, catalog_deltas
from projector.errors import PositionConflict, StoreRefused, StoreUnavailable
from projector.rows import (
    ITEM_COLUMN_KINDS,
    ITEM_COLUMNS,
    REMOVAL_COLUMNS,
    from_row,
    micros,
    removal_from_row,
    removal_row,
    to_row,
)
from projector.store_reads import FEED_COLUMNS as _FEED_COLUMNS
from projector.store_reads import FEED_Q as _FEED_Q
from projector.store_reads import StoreReads
from projector.view import ItemState, Removed

_Q = ", ".join(f'"{c}"' for c in ITEM_COLUMNS)
_REMOVAL_Q = ", ".join(f'"{c}"' for c in REMOVAL_COLUMNS)
_KEY_COLUMNS = ("catalog_id", "item_id")


def item_column_type(column: str, big: str) -> str:
    kind = ITEM_COLUMN_KINDS[column]
    if kind is FieldKind.INTEGER:
        return "INTEGER"
    if kind in (FieldKind.LONG, FieldKind.PRICE, FieldKind.TIME):
        return big
    return "TEXT"


def _schema(big: str, serial: str) -> list[str]:
    columns = ", ".join(f'"{c}" {item_column_type(c, big)}' for c in ITEM_COLUMNS)
    return [
        f"CREATE TABLE IF NOT EXISTS items ({columns}, PRIMARY KEY (catalog_id, item_id))",
        "CREATE INDEX IF NOT EXISTS items_by_price ON items (catalog_id, current_price)",
        # A filtered page walks one availability in item order, price checked on the way.
        "CREATE INDEX IF NOT EXISTS items_by_stock_in_order "
        "ON items (catalog_id, stock_availability, item_id)",
        "CREATE TABLE IF NOT EXISTS catalogs (catalog_id TEXT PRIMARY KEY, item_count "
        f"{big} NOT NULL, in_stock {big} NOT NULL, out_of_stock {big} NOT NULL, "
        f"last_change_at {big})",
        f"CREATE TABLE IF NOT EXISTS changes (seq {serial}, kind TEXT NOT NULL, "
        "catalog_id TEXT NOT NULL, item_id TEXT NOT NULL, old TEXT, new TEXT, event_id TEXT, "
        f'"partition" INTEGER NOT NULL, "offset" {big} NOT NULL)',
        # Removed items: when, so an older retry arriving later stays out (see view.Removed).
        "CREATE TABLE IF NOT EXISTS removals (catalog_id TEXT NOT NULL, item_id TEXT NOT NULL, "
        f'source_updated_at {big}, "partition" INTEGER NOT NULL, "offset" {big} NOT NULL, '
        "PRIMARY KEY (catalog_id, item_id))",
        'CREATE TABLE IF NOT EXISTS offsets (topic TEXT NOT NULL, "partition" INTEGER NOT NULL, '
        f'next_offset {big} NOT NULL, PRIMARY KEY (topic, "partition"))',
    ]


def refuses_data(exc: BaseException) -> bool:
    """A value the database cannot hold (e.g. a NUL character in PostgreSQL text, an integer
    beyond 64 bits): the same batch would fail forever, unlike a lost connection. DB-API 2.0
    names these DataError and IntegrityError in every driver (sqlite3, psycopg)."""
    if isinstance(exc, OverflowError):
        return True
    return any(kind.__name__ in ("DataError", "IntegrityError") for kind in type(exc).__mro__)


class ViewStore(StoreReads, ABC):
    """Writes come from one consumer task; reads from any thread (each has its connection)."""

    placeholder = "?"
    lock_rows = ""  # " FOR UPDATE" where the database has it

    def __init__(self) -> None:
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._opened: list[Any] = []  # every thread's connection, to close them all
        self._opened_lock = threading.Lock()

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def _schema_statements(self) -> list[str]: ...

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
            with self._opened_lock:
                self._opened.append(connection)
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        connection = self._connection()
        try:
            cursor = connection.cursor()
            yield cursor
            connection.commit()
        except PositionConflict:
            connection.rollback()
            raise
        except Exception as exc:
            connection.rollback()
            if refuses_data(exc):
                raise StoreRefused(f"view store refused the data: {exc}") from exc
            raise StoreUnavailable(f"view store transaction failed: {exc}") from exc

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        connection = self._connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._sql(statement), params)
            rows = list(cursor.fetchall())
            connection.commit()  # end the read snapshot
        except Exception as exc:
            connection.rollback()  # else PostgreSQL refuses every later query on it
            raise StoreUnavailable(f"view store query failed: {exc}") from exc
        return rows

    big_integer = "INTEGER"

    @abstractmethod
    def _item_columns(self, cursor: Any) -> set[str]: ...

    def create(self) -> None:
        """Create the tables, or add the columns a newer schema version brought."""
        with self._write_lock, self._transaction() as cursor:
            for statement in self._schema_statements():
                cursor.execute(statement)
            existing = self._item_columns(cursor)
            for column in ITEM_COLUMNS:
                if column not in existing:
                    kind = item_column_type(column, self.big_integer)
                    cursor.execute(f'ALTER TABLE items ADD COLUMN "{column}" {kind}')

    # --- writing -------------------------------------------------------------------------

    def positions(self, topic: str) -> dict[int, int]:
        rows = self._query('SELECT "partition", next_offset FROM offsets WHERE topic = ?', [topic])
        return {int(p): int(o) for p, o in rows}

    def load_items(
        self, keys: Iterable[ItemKey], chunk: int = 400
    ) -> dict[ItemKey, ItemState | Removed]:
        """What the store knows of many items (their state, or their removal) in a few queries:
        one round trip per `chunk` ids of a catalog and table, not one per item;
        `catalog_id = ? AND item_id IN (...)` walks the primary key in both databases."""
        by_catalog: dict[str, list[str]] = {}
        for catalog_id, item_id in keys:
            by_catalog.setdefault(catalog_id, []).append(item_id)
        found: dict[ItemKey, ItemState | Removed] = {}
        for catalog_id, item_ids in by_catalog.items():
            for start in range(0, len(item_ids), chunk):
                part = item_ids[start : start + chunk]
                where = f"WHERE catalog_id = ? AND item_id IN ({', '.join('?' for _ in part)})"
                for row in self._query(
                    f"SELECT {_REMOVAL_Q} FROM removals {where}", [catalog_id, *part]
                ):
                    marker = removal_from_row(row)
                    found[(marker.catalog_id, marker.item_id)] = marker
                for row in self._query(f"SELECT {_Q} FROM items {where}", [catalog_id, *part]):
                    state = from_row(row)
                    found[(state.catalog_id, state.item_id)] = state
        return found

    def write(self, topic: str, plan: BatchPlan) -> None:
        """Everything a batch changed, and the offsets it reached, in one transaction."""
        marks = ", ".join("?" for _ in ITEM_COLUMNS)
        updates = ", ".join(
            f'"{c}" = excluded."{c}"' for c in ITEM_COLUMNS if c not in _KEY_COLUMNS
        )
        upsert = self._sql(
            f"INSERT INTO items ({_Q}) VALUES ({marks}) "
            f"ON CONFLICT (catalog_id, item_id) DO UPDATE SET {updates}"
        )
        mark_removed = self._sql(
            f"INSERT INTO removals ({_REMOVAL_Q}) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (catalog_id, item_id) DO UPDATE SET "
            "source_updated_at = excluded.source_updated_at, "
            '"partition" = excluded."partition", "offset" = excluded."offset"'
        )
        where_key = "WHERE catalog_id = ? AND item_id = ?"
        with self._write_lock, self._transaction() as cursor:
            self._check_positions(cursor, topic, plan)
            present = [s for s in plan.items.values() if isinstance(s, ItemState)]
            gone = [s for s in plan.items.values() if isinstance(s, Removed)]
            if present:
                cursor.executemany(upsert, [to_row(s) for s in present])
                keys = [(s.catalog_id, s.item_id) for s in present]
                cursor.executemany(self._sql(f"DELETE FROM removals {where_key}"), keys)
            if gone:
                keys = [(s.catalog_id, s.item_id) for s in gone]
                cursor.executemany(self._sql(f"DELETE FROM items {where_key}"), keys)
                cursor.executemany(mark_removed, [removal_row(s) for s in gone])
            if plan.feed:
                cursor.executemany(
                    self._sql(
                        "INSERT INTO changes (kind, catalog_id, item_id, old, new, event_id, "
                        '"partition", "offset") VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
                    ),
                    [
                        (
                            f.change.kind.value,
                            f.change.catalog_id,
                            f.change.item_id,
                            f.change.old,
                            f.change.new,
                            f.event_id,
                            f.position.partition,
                            f.position.offset,
                        )
                        for f in plan.feed
                    ],
                )
            self._write_catalogs(cursor, plan)
            cursor.executemany(
                self._sql(
                    'INSERT INTO offsets (topic, "partition", next_offset) VALUES (?, ?, ?) '
                    'ON CONFLICT (topic, "partition") '
                    "DO UPDATE SET next_offset = excluded.next_offset"
                ),
                [(topic, p, o) for p, o in plan.next_offsets.items()],
            )

    def _check_positions(self, cursor: Any, topic: str, plan: BatchPlan) -> None:
        """Another instance sharing this store may have applied these partitions meanwhile (a
        rebalance): then this batch was planned on old positions and must not be written.
        The offsets row is created first if missing, so there is always a row to lock: two
        instances applying a partition's first batch queue on it (the second then sees the
        first one's offsets) instead of both finding nothing to lock and both writing.
        Partitions are locked in one order, so two batches never wait on each other."""
        for partition in sorted(plan.next_offsets):
            cursor.execute(
                self._sql(
                    'INSERT INTO offsets (topic, "partition", next_offset) VALUES (?, ?, 0) '
                    'ON CONFLICT (topic, "partition") DO NOTHING'
                ),
                (topic, partition),
            )
            cursor.execute(
                self._sql(
                    'SELECT next_offset FROM offsets WHERE topic = ? AND "partition" = ?'
                    + self.lock_rows
                ),
                (topic, partition),
            )
            row = cursor.fetchone()
            stored = int(row[0]) if row else 0
            if stored != plan.planned_from.get(partition, 0):
                raise PositionConflict(
                    f"partition {partition}: store is at {stored}, batch planned from "
                    f"{plan.planned_from.get(partition, 0)}"
                )

    def _write_catalogs(self, cursor: Any, plan: BatchPlan) -> None:
        latest: dict[str, int] = {}
        for state in plan.items.values():
            if isinstance(state, ItemState):
                moment = micros(state.received_at) or 0
                latest[state.catalog_id] = max(latest.get(state.catalog_id, 0), moment)
        for catalog_id, delta in catalog_deltas(plan).items():
            cursor.execute(
                self._sql(
                    "INSERT INTO catalogs (catalog_id, item_count, in_stock, out_of_stock, "
                    "last_change_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (catalog_id) DO UPDATE SET "
                    "item_count = catalogs.item_count + excluded.item_count, "
                    "in_stock = catalogs.in_stock + excluded.in_stock, "
                    "out_of_stock = catalogs.out_of_stock + excluded.out_of_stock, "
                    "last_change_at = CASE WHEN excluded.last_change_at > "
                    "COALESCE(catalogs.last_change_at, 0) THEN excluded.last_change_at "
                    "ELSE catalogs.last_change_at END"
                ),
                (
                    catalog_id,
                    delta.items,
                    delta.in_stock,
                    delta.out_of_stock,
                    latest.get(catalog_id),
                ),
            )
        cursor.execute(self._sql("DELETE FROM catalogs WHERE item_count <= 0"))

    def prune_changes(self, keep: int) -> int:
        """Delete all but the newest `keep` changes of the feed; returns how many went."""
        with self._write_lock, self._transaction() as cursor:
            cursor.execute(
                self._sql("DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?"),
                (keep,),
            )
            return max(0, int(cursor.rowcount))

    overriding = ""  # what lets an INSERT name an identity column's value, where needed

    def _feed_sequence_follows(self, cursor: Any) -> None:
        """After explicit sequence numbers were inserted, the next one must come after them
        (SQLite's AUTOINCREMENT already does)."""

    def continue_feed_of(
        self, older: ViewStore, older_next: dict[int, int], chunk: int = 10_000
    ) -> None:
        """Make this new generation's feed continue `older`'s: its changes with their numbers,
        then this generation's own changes of records `older` had not applied (offsets from
        `older_next`), numbered after them."""
        columns = ", ".join(f'"{c}"' for c in _FEED_COLUMNS[1:])
        with self._write_lock, self._transaction() as cursor:
            for partition, next_offset in older_next.items():
                cursor.execute(
                    self._sql('DELETE FROM changes WHERE "partition" = ? AND "offset" < ?'),
                    (partition, next_offset),
                )
            older_head = int(older._query("SELECT COALESCE(MAX(seq), 0) FROM changes")[0][0])
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM changes")
            own_head = int(cursor.fetchone()[0])
            # Move this generation's own changes past every number the older feed used (the
            # shift clears both ranges, so no row ever collides with another on the way).
            cursor.execute(
                self._sql(
                    f"INSERT INTO changes (seq, {columns}){self.overriding} "
                    f"SELECT seq + ?, {columns} FROM changes WHERE seq <= ?"
                ),
                (older_head + own_head, own_head),
            )
            cursor.execute(self._sql("DELETE FROM changes WHERE seq <= ?"), (own_head,))
            insert = self._sql(
                f"INSERT INTO changes ({_FEED_Q}){self.overriding} "
                f"VALUES ({', '.join('?' for _ in _FEED_COLUMNS)})"
            )
            after = 0
            while True:
                page = older._query(
                    f"SELECT {_FEED_Q} FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                    [after, chunk],
                )
                if not page:
                    break
                cursor.executemany(insert, page)
                after = int(page[-1][0])
            self._feed_sequence_follows(cursor)

    def last_change_seq(self) -> int:
        """The newest change's seq (0: none), where the status page's live feed starts."""
        rows = self._query("SELECT MAX(seq) FROM changes")
        return int(rows[0][0] or 0)

    def close(self) -> None:
        """Close every thread's connection (a thread that reads again reconnects)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._local = threading.local()


class SqliteStore(ViewStore):
    """The embedded default: one file, WAL so readers never block the writer."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a crash keeps the database consistent (rows and offsets together);
        # a power cut may lose the last transactions, which the projector then re-applies.
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def _schema_statements(self) -> list[str]:
        return _schema("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT")

    def _item_columns(self, cursor: Any) -> set[str]:
        cursor.execute("PRAGMA table_info(items)")
        return {str(row[1]) for row in cursor.fetchall()}
