"""Generations of the views: a rebuild fills a new, empty generation while the active one keeps
serving, then a durable pointer switches readers and the consumer over at once.

- SQLite: each generation is its own file; `<name>.active` names the active file.
- PostgreSQL: each generation is its own schema; a one-row table names the active schema, and
  every instance sharing the database follows it (generations_postgres.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from projector.errors import StoreUnavailable
from projector.sqlite_store import SqliteStore
from projector.store import ViewStore

log = logging.getLogger(__name__)


class Generations(ABC):
    """The generations of one kind of store (a store names its generation: `store.name`)."""

    # Whether other processes may serve the same generations (then each follows the pointer).
    shared = False

    @abstractmethod
    def open_active(self) -> ViewStore: ...

    @abstractmethod
    def open_new(self) -> ViewStore:
        """A new, empty generation (not yet active)."""

    @abstractmethod
    def activate(self, store: ViewStore) -> None:
        """Make `store` the generation a restart opens (atomic and durable)."""

    @abstractmethod
    def discard(self, store: ViewStore) -> None:
        """Close and delete a generation no longer active; never the one the pointer names (a
        rebuild's failure path may come after the pointer moved: a switch whose last step
        raised, a commit whose answer was lost)."""

    def holding_pointer(self) -> AbstractContextManager[str]:
        """Hold the pointer for a switch: no other instance writes a batch into the active
        generation until `activate` (or the end of the block, if none); yields its name."""
        return nullcontext(self.open_active().name)

    def heartbeat(self, using: Iterable[str], said: int | None = None) -> str | None:
        """Say which generations this instance uses; returns the active generation's name, or
        None where no other process can move the pointer. `said`: when the list was made (a
        count); a list older than the one last stored is not stored."""
        return None

    def in_use_elsewhere(self, name: str) -> bool:
        """Whether another live instance still uses this generation (then it is kept)."""
        return False

    def discard_abandoned(self) -> list[str]:
        """Delete the generations a process that died left behind (a rebuild not activated, or
        one retired but not yet deleted); returns their names. On start, before any rebuild."""
        return []


class SqliteGenerations(Generations):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pointer = path.with_name(path.name + ".active")
        self._owner: int | None = None  # the store lock, held for life (discard_abandoned)

    def open_active(self) -> SqliteStore:
        if self.pointer.exists():
            return SqliteStore(self.path.with_name(self.pointer.read_text().strip()))
        return SqliteStore(self.path)

    def open_new(self) -> SqliteStore:
        return SqliteStore(
            self.path.with_name(f"{self.path.stem}.{time.time_ns()}{self.path.suffix}")
        )

    def activate(self, store: ViewStore) -> None:
        assert isinstance(store, SqliteStore)  # this class opened it
        store.make_durable()  # on disk before anything points at it
        staged = self.pointer.with_name(self.pointer.name + ".tmp")
        staged.write_text(store.path.name)
        with staged.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(staged, self.pointer)
        _fsync_directory(self.pointer.parent)  # else a crash may bring back the old pointer

    def discard(self, store: ViewStore) -> None:
        assert isinstance(store, SqliteStore)
        store.close()
        if self.open_active().path.name == store.path.name:
            log.warning("not deleting the active generation", extra={"generation": store.name})
            return
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{store.path}{suffix}").unlink(missing_ok=True)
        except OSError as exc:  # (a rebuild's failure path calls it, often for the same cause)
            raise StoreUnavailable(f"cannot delete generation {store.name}: {exc}") from exc

    def discard_abandoned(self) -> list[str]:
        """One process owns a SQLite store, so a generation file other than the active one is
        left over from a process that died (a rebuild never activated, maybe never complete).
        Only when no other live process holds the store's lock (a rolling restart starts the
        new process before the old one stops: its rebuild, or the generation it activates
        meanwhile, is not abandoned); the lock is then held while this process lives."""
        if not self._own():
            return []
        active = self.open_active().path
        if not active.exists():  # a pointer to nothing: an operator's mess, not a death to tidy
            return []
        generation = re.compile(rf"^{re.escape(self.path.stem)}\.\d+{re.escape(self.path.suffix)}$")
        found = [
            p.name
            for p in (self.path.parent.iterdir() if self.path.parent.is_dir() else ())
            if p.name != active.name and (p.name == self.path.name or generation.match(p.name))
        ]
        for name in found:
            self.discard(SqliteStore(self.path.with_name(name)))
        return found

    def _own(self) -> bool:
        if self._owner is None:
            if not self.path.parent.is_dir():
                return True  # no generation yet, so none to delete; the lock comes next start
            fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._owner = fd
        return True


def _fsync_directory(directory: Path) -> None:
    """A rename is durable once its directory is: fsync the directory's own descriptor."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
