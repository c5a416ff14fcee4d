"""Which failures of a store read a retry may mend (the database down, restarting, busy) and
which it never does (a defect: the same statement fails the same way every time). The first
are a 503 with Retry-After; the second a logged 500 (problems.py)."""

from __future__ import annotations

import sqlite3
import sys

# SQLite's primary result codes a moment later may not give: busy or locked by another
# connection, an I/O error (a disk or file system's), a file that could not be opened (a disk
# detached), a WAL lock protocol race, a full disk (an operator frees space).
_SQLITE_TRANSIENT = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_FULL,
})  # fmt: skip
# psycopg's classes follow the SQLSTATE's class, and some classes hold both kinds: a snapshot too
# old (72, old_snapshot_threshold) is a plain DatabaseError, yet a new one answers; corrupted
# data (XX001/2) is an InternalError, and a statement beyond the server's limits (54) an
# OperationalError, yet each fails the same way every time.
_PSYCOPG_DEFECTS = ("54", "XX001", "XX002")  # SQLSTATEs, or their class (54's own subclasses)


def transient(exc: BaseException) -> bool:
    """Whether a failed read may answer when asked again. psycopg: a connection's or the
    server's state (OperationalError: down, restarting, a timeout; InterfaceError: a connection
    closed; InternalError: a transaction aborted) may; a statement the server rejects
    (ProgrammingError: a missing table or column, a syntax error; NotSupportedError) never does.
    sqlite3: by the result code. Anything else (not the driver's) is not."""
    if _psycopg_error(exc):
        import psycopg  # (imported already: _psycopg_error)

        assert isinstance(exc, psycopg.Error)
        defect = (exc.sqlstate or "").startswith(_PSYCOPG_DEFECTS)
        again = (psycopg.OperationalError, psycopg.InterfaceError, psycopg.InternalError,
                 psycopg.errors.SnapshotTooOld)  # fmt: skip
        return isinstance(exc, again) and not defect
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_TRANSIENT
    return False


# A table or schema the statement names does not exist: a defect, unless the generation was
# dropped under the reader (ViewStore._read_failure asks the pointer).
_MISSING = ("42P01", "3F000")  # undefined_table, invalid_schema_name


def missing_relation(exc: BaseException) -> bool:
    """Whether a failed read named a table or schema PostgreSQL does not have (any more)."""
    return _psycopg_error(exc) and (getattr(exc, "sqlstate", None) or "") in _MISSING


def _psycopg_error(exc: BaseException) -> bool:
    """Whether `exc` is psycopg's. None of its errors exists before this process imports it,
    so a process on SQLite alone (a rebuild's worker) never pays that import (about a tenth of
    a second of CPU, more on a loaded machine)."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)
