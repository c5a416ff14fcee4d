"""Which failed store reads a retry may mend (store_faults.transient): psycopg's by class,
sqlite3's by the result code a real SQLite gave."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from projector.store_faults import transient


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (psycopg.OperationalError("server closed the connection"), True),
        (errors.LockNotAvailable("lock timeout"), True),
        (errors.AdminShutdown("terminating connection"), True),
        (psycopg.InterfaceError("the connection is closed"), True),
        (errors.InFailedSqlTransaction("current transaction is aborted"), True),
        (errors.UndefinedTable('relation "items" does not exist'), False),
        (errors.SyntaxError("syntax error"), False),
        (psycopg.NotSupportedError("no"), False),
        (ValueError("not the driver's"), False),
    ],
)
def test_psycopg_errors_by_class(exc: BaseException, expected: bool) -> None:
    assert transient(exc) is expected


def _raised(connection: sqlite3.Connection, statement: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        connection.execute(statement)
    return raised.value


def test_sqlite_errors_by_result_code(tmp_path: Path) -> None:
    path = tmp_path / "views.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE items (id TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    reader = sqlite3.connect(path, timeout=0)
    try:
        busy = _raised(reader, "SELECT * FROM items")
        assert busy.sqlite_errorcode == sqlite3.SQLITE_BUSY
        assert transient(busy) is True
        holder.execute("ROLLBACK")
        missing = _raised(reader, "SELECT * FROM nothing")  # a defect: "no such table"
        assert missing.sqlite_errorcode == sqlite3.SQLITE_ERROR
        assert transient(missing) is False
        assert transient(sqlite3.OperationalError("made, not raised: no code")) is False
    finally:
        reader.close()
        holder.close()
