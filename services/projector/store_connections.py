"""Each thread's connection to one view store, and how `close` (from any thread) ends them.

A connection is closed only by whoever holds its lock, which every use holds: `close` closes
the connections no thread is using, and marks the others, which their threads close as their
use ends. It closed them all at once from the calling thread: a statement still running on one
in another thread (a read API query on a worker thread, a rebuild's writer) then ran on a
connection whose handles sqlite3 had just freed (its statement cache finalised under it): a
crash of the whole process ("Fatal Python error: Segmentation fault") or, on PostgreSQL, an
error out of the read ("the connection is closed").

A thread that uses the store after `close` opens a new connection (a later `close` ends it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any


class Held:
    """One thread's connection (None: not open now), and the lock its uses hold."""

    __slots__ = ("closing", "connection", "depth", "lock")

    def __init__(self) -> None:
        self.connection: Any = None
        # Re-entrant: a use may contain another on the same thread (a SQLite store reading
        # another generation's file attaches it, and its statements use the connection again).
        self.lock = threading.RLock()
        self.depth = 0  # uses under way on its thread (only that thread changes it)
        self.closing = False  # `close` came during a use: the use's end closes it


class ThreadConnections:
    """The connections of every thread to one store, opened by `connect` on first use."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._open: set[Held] = set()  # every thread's that has a connection open now
        self._open_lock = threading.Lock()

    def acquire(self) -> Held:
        """This thread's connection, held until `release` (opened if it has none now). The
        read API's every query comes here: the common case is one lock taken, nothing else."""
        held: Held | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = Held()
        held.lock.acquire()
        if held.connection is None:
            try:
                held.connection = self._connect()
            except BaseException:
                held.lock.release()
                raise
            held.closing = False
            with self._open_lock:
                self._open.add(held)
        held.depth += 1
        return held

    def release(self, held: Held) -> None:
        held.depth -= 1
        held.lock.release()
        # (Looked at after the unlock: a `close` that came during the use set it, or finds the
        # lock free, whichever its moment; both may try, one closes.)
        if held.closing and not held.depth:
            self._close_idle(held)

    def forget(self, connection: Any) -> None:
        """Close this thread's `connection` (in use: its lock held), which the database
        dropped: the thread's next use opens a new one."""
        held: Held | None = getattr(self._local, "held", None)
        if held is not None and held.connection is connection:
            self._end(held)

    def close(self) -> None:
        """Close every connection no thread is using now; the others are closed by their
        threads as their use ends. Never waits for a use (it may be called on the event loop)."""
        with self._open_lock:
            every = list(self._open)
        for held in every:
            held.closing = True  # (before the attempt: a use ending now sees it, or we get in)
            self._close_idle(held)

    def opened(self) -> list[Any]:
        """The connections open now (tests look at them)."""
        with self._open_lock:
            return [held.connection for held in self._open if held.connection is not None]

    def _close_idle(self, held: Held) -> None:
        """Close `held`'s connection unless a use holds it (that use's end closes it)."""
        if not held.lock.acquire(blocking=False):
            return
        try:
            if held.depth == 0:  # (else this very thread is using it: closed at that end)
                self._end(held)
        finally:
            held.lock.release()

    def _end(self, held: Held) -> None:
        """Close `held`'s connection (its lock held)."""
        connection, held.connection, held.closing = held.connection, None, False
        with self._open_lock:
            self._open.discard(held)
        if connection is not None:
            with suppress(Exception):  # (a connection the database dropped may fail to close)
                connection.close()
