"""Each thread's connection to a view store, and `close` from another thread: a connection in use
is never closed under its use, but by its thread once the use ends (store_connections.py)."""

from __future__ import annotations

import contextlib
import threading

from projector.store_connections import ThreadConnections


class _Connection:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed_by: str | None = None
        self.closes = 0

    def close(self) -> None:
        self.closes += 1
        self.closed_by = threading.current_thread().name


class _Opener:
    def __init__(self) -> None:
        self.opened: list[_Connection] = []

    def __call__(self) -> _Connection:
        self.opened.append(_Connection(len(self.opened)))
        return self.opened[-1]


def _in_use_on_a_thread(connections: ThreadConnections) -> tuple[threading.Event, threading.Thread]:
    """A thread named "reader" holding its connection until the event is set."""
    using, done = threading.Event(), threading.Event()

    def use() -> None:
        held = connections.acquire()
        using.set()
        done.wait(10)
        connections.release(held)

    reader = threading.Thread(target=use, name="reader")
    reader.start()
    assert using.wait(10)
    return done, reader


def test_a_connection_no_thread_uses_is_closed_at_once() -> None:
    opener = _Opener()
    connections = ThreadConnections(opener)
    connections.release(connections.acquire())
    connections.close()
    assert [c.closed_by for c in opener.opened] == [threading.current_thread().name]
    assert connections.opened() == []


def test_a_connection_in_use_is_closed_by_its_thread_once_the_use_ends() -> None:
    opener = _Opener()
    connections = ThreadConnections(opener)
    done, reader = _in_use_on_a_thread(connections)
    connections.close()
    (theirs,) = opener.opened
    assert theirs.closed_by is None  # not under its use
    assert connections.opened() == [theirs]  # still open, and said so
    done.set()
    reader.join(10)
    assert theirs.closed_by == "reader"
    assert connections.opened() == []


def test_nested_uses_close_at_the_outermost_end() -> None:
    opener = _Opener()
    connections = ThreadConnections(opener)
    outer = connections.acquire()
    inner = connections.acquire()
    assert inner is outer
    assert len(opener.opened) == 1
    connections.close()  # (from the very thread using it)
    connections.release(inner)
    assert opener.opened[0].closed_by is None
    connections.release(outer)
    assert opener.opened[0].closed_by == threading.current_thread().name


def test_a_use_after_close_opens_a_new_connection_a_later_close_ends() -> None:
    opener = _Opener()
    connections = ThreadConnections(opener)
    connections.release(connections.acquire())
    connections.close()
    held = connections.acquire()
    assert held.connection is opener.opened[1]
    connections.release(held)
    assert opener.opened[1].closed_by is None  # no close came during this use
    connections.close()
    assert [c.closed_by is not None for c in opener.opened] == [True, True]


def test_a_connection_the_database_dropped_is_forgotten_and_replaced() -> None:
    opener = _Opener()
    connections = ThreadConnections(opener)
    held = connections.acquire()
    connections.forget(held.connection)
    connections.release(held)
    assert opener.opened[0].closed_by is not None
    assert connections.opened() == []
    held = connections.acquire()
    assert held.connection is opener.opened[1]
    connections.release(held)


def test_a_failed_connect_leaves_nothing_held() -> None:
    calls = []

    def refuse() -> object:
        calls.append(1)
        raise ConnectionError("down")

    connections = ThreadConnections(refuse)
    for _ in range(2):
        with contextlib.suppress(ConnectionError):
            connections.acquire()
    assert len(calls) == 2
    closing = threading.Thread(target=connections.close)  # never blocked by a lock left held
    closing.start()
    closing.join(5)
    assert not closing.is_alive()


def test_closes_racing_uses_leave_every_connection_closed_once() -> None:
    """Many threads use and release while closes come from another: no connection is closed
    under a use, every one exactly once, and none is left open after the last close."""
    opener = _Opener()
    connections = ThreadConnections(opener)
    stop = threading.Event()
    uses, closed_in_use = [0], []

    def use() -> None:
        while not stop.is_set():
            held = connections.acquire()
            connection = held.connection
            closes = connection.closes
            uses[0] += 1
            if closes or connection.closes:  # (at the use's start, and at its end)
                closed_in_use.append(connection.number)
            connections.release(held)

    users = [threading.Thread(target=use) for _ in range(4)]
    for user in users:
        user.start()
    for _ in range(2000):
        connections.close()
    stop.set()
    for user in users:
        user.join(10)
    connections.close()
    assert uses[0] > 0
    assert closed_in_use == []
    assert [c.closes for c in opener.opened] == [1] * len(opener.opened)
    assert connections.opened() == []
