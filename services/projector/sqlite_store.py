"""The view store in SQLite: the embedded default, one file per generation of the views."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from projector.errors import StoreUnavailable
from projector.store import ViewStore
from projector.store_schema import schema_statements


class SqliteStore(ViewStore):
    """One file, WAL so readers never block the writer."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    @property
    def name(self) -> str:
        return self.path.name

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a crash keeps the database consistent (rows and offsets together);
        # a power cut may lose the last transactions, which the projector then re-applies.
        # (A rebuild's generation loaded with synchronous=OFF was measured: no faster, in wall
        # or CPU time, on this disk; so every generation runs with the same pragmas.)
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def make_durable(self) -> None:
        """Everything written so far on disk: the write-ahead log checkpointed into the file
        and both synced (NORMAL syncs at checkpoints only; a power cut may lose the commits
        since the last one, which for a rebuilt generation are its indexes and its feed)."""
        with self._write_lock, self._connected() as connection:
            connection.execute("PRAGMA synchronous=FULL")  # this checkpoint syncs all it wrote
            try:
                busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                connection.execute("PRAGMA synchronous=NORMAL")
        if busy:
            raise StoreUnavailable(f"{self.path.name}: could not checkpoint before activation")

    def _schema_statements(self) -> list[str]:
        return schema_statements("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT")

    def _columns(self, cursor: Any, table: str) -> set[str]:
        cursor.execute(f"PRAGMA table_info({table})")
        return {str(row[1]) for row in cursor.fetchall()}

    @contextmanager
    def _reading(self, older: ViewStore) -> Iterator[str | None]:
        """Another generation's file, attached to the writer connection (outside a transaction,
        as SQLite requires) while a statement of this one reads it."""
        if not isinstance(older, SqliteStore):
            yield None
            return
        with self._connected() as connection:  # (its statements' uses are nested in this one)
            try:
                connection.execute("ATTACH DATABASE ? AS older_generation", (str(older.path),))
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot read generation {older.name}: {exc}") from exc
            try:
                yield "older_generation"
            finally:
                connection.execute("DETACH DATABASE older_generation")
