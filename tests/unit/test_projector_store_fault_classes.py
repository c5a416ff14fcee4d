"""store_faults.transient where 7a83ace's split by DB-API class answered wrong: failures a retry
mends that were a 500 clients never retry, and defects that were a 503 retried for ever."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from psycopg import errors

from projector.store_faults import transient


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        # An old snapshot ended (old_snapshot_threshold, which the operator sets; PostgreSQL
        # <= 16): psycopg names class 72 a plain DatabaseError. Asked again, a new snapshot.
        (errors.SnapshotTooOld("snapshot too old"), True),
        # Corrupted pages or indexes: the same read fails the same way until someone repairs
        # them (class XX, which psycopg names InternalError like an aborted transaction).
        (errors.DataCorrupted("invalid page in block 7 of relation base/5/16384"), False),
        (errors.IndexCorrupted('index "items_pkey" contains unexpected zero page'), False),
        # A statement beyond the server's limits (class 54): the same statement, the same end.
        (errors.StatementTooComplex("stack depth limit exceeded"), False),
        (errors.ProgramLimitExceeded("program limit exceeded"), False),
        (errors.TooManyArguments("cannot pass more than 100 arguments to a function"), False),
        # Unchanged: the other internal errors and resources a moment later may give.
        (errors.InternalError_("could not open relation with OID 16384"), True),
        (errors.DiskFull("could not extend file"), True),
        (errors.QueryCanceled("canceling statement due to statement timeout"), True),
        (errors.ReadOnlySqlTransaction("cannot execute in a read-only transaction"), True),
    ],
)
def test_psycopg_errors_by_their_state(exc: BaseException, expected: bool) -> None:
    assert transient(exc) is expected


def test_a_full_disk_is_mended_by_freeing_space(tmp_path: Path) -> None:
    """SQLITE_FULL, from a real SQLite (its page limit standing for the disk's): 'database or
    disk is full' is an outage an operator ends, not a defect of the read."""
    connection = sqlite3.connect(tmp_path / "views.db", isolation_level=None)
    try:
        connection.execute("CREATE TABLE items (id TEXT)")
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(sqlite3.Error) as raised:
            connection.execute("INSERT INTO items SELECT zeroblob(100000)")
        assert raised.value.sqlite_errorcode == sqlite3.SQLITE_FULL
        assert transient(raised.value) is True
    finally:
        connection.close()
