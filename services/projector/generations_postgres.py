"""PostgreSQL generations, shared by every projector instance on the database: each generation
is a schema, `public.catalog_stream_generation` names the active one, and
`public.catalog_stream_instances` says which schemas each live instance uses (a heartbeat).

Every live batch reads the pointer row FOR SHARE in its own transaction and is not written if
the pointer names another schema (PostgresStore.write). A switch holds that row FOR UPDATE from
reading the old generation's positions to moving the pointer, so no batch lands in the old
generation in between, and every batch after it sees the move: each instance then reopens the
new generation (GenerationFollower); a switch that falls silent loses the row (generations_held).
A retired schema is dropped once no live instance uses it. The shared tables, and which of
their failures is a defect (a pointer lost), are in generations_pointer; the drops, in
generations_sweep.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from projector.errors import StoreUnavailable
from projector.generations import Generations
from projector.generations_held import (
    DISCARD_LOCK_WAIT_MS,
    batch_limits,
    hold_limits,
    lock_wait,
    said_alive,
)
from projector.generations_named import generation_schemas, pointer_failure
from projector.generations_pointer import REGISTRY, active_schema, ensure_tables, point_at, register
from projector.generations_sweep import drop_each, drop_unless_active
from projector.postgres_store import PostgresStore, connect
from projector.store import ViewStore

# An instance that has not said for 15 seconds is gone (it says every second, GenerationFollower).
REGISTRATION_EXPIRY_S = 15.0
# A registration that counts as live: said within the expiry (`%(expiry)s`), or any while the
# database has been up for less than that. Every registration expired while it was down, the
# live instances' too, and a process started since (its heartbeats never failed) cannot tell
# them apart: all are taken as live (a generation none names is still dropped).
_LIVE = (
    "(seen_at > now() - make_interval(secs => %(expiry)s) "
    "OR pg_postmaster_start_time() > now() - make_interval(secs => %(expiry)s))"
)
# A registration not said for this long is deleted by a sweep (discard_abandoned): a process
# killed left it, and else it stayed for ever, counted as live again after each restart of the
# database (_LIVE). Well past the expiry, and only once the database has been up as long: every
# instance that runs has said it again by then. A live instance paused that long (it counted as
# gone already) says it again at its next heartbeat (register replaces its rows).
REGISTRATION_DELETE_S = 4 * REGISTRATION_EXPIRY_S
_DEAD = (
    "seen_at < now() - make_interval(secs => %(after)s) "
    "AND pg_postmaster_start_time() < now() - make_interval(secs => %(after)s)"
)

log = logging.getLogger(__name__)


class PostgresGenerations(Generations):
    shared = True

    def __init__(self, url: str, default_schema: str = "views") -> None:
        self.url = url
        self.default_schema = default_schema
        self.instance = uuid.uuid4().hex  # this process, in the registry
        self._held: psycopg.Connection[Any] | None = None  # the pointer, during a switch
        # One heartbeat at a time: a rebuild's and the watch's may overlap, and each replaces
        # this instance's rows (two at once: the later one fails on a duplicate key).
        self._saying = threading.Lock()
        # When the list last stored was made: an older one whose thread got here later (each
        # runs on a worker thread) is not stored over it.
        self._said = 0
        # Whether this instance's heartbeats failed lately: if it could not reach the database,
        # neither could the others, maybe, and their registrations expired meanwhile without
        # their being gone. Until its own have worked for a whole expiry, no registration is
        # judged expired (a sweep drops nothing, a retired generation is kept).
        self._steady_from: float = time.monotonic()  # (a process starting knows no outage)
        self._last_said: float | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot reach the view store: {exc}") from exc

    def open_active(self) -> PostgresStore:
        with self._connect() as connection:
            ensure_tables(connection, self.default_schema)  # (generations_pointer)
            schema = active_schema(connection, self.default_schema)
        return PostgresStore(self.url, schema, follows_pointer=True, default=self.default_schema)

    def open_new(self) -> PostgresStore:
        schema = f"{self.default_schema}_{time.time_ns()}"
        return PostgresStore(self.url, schema, default=self.default_schema)

    @contextmanager
    def holding_pointer(self) -> Iterator[str]:
        connection = self._connect()
        try:
            ensure_tables(connection, self.default_schema)
            try:
                connection.execute("BEGIN")
                hold_limits(connection)  # (generations_held)
            except psycopg.Error as exc:
                raise StoreUnavailable(f"cannot hold the generation pointer: {exc}") from exc
            # (its row locked by another instance's batch for SWITCH_LOCK_WAIT: StoreUnavailable)
            active = active_schema(connection, self.default_schema, lock=" FOR UPDATE")
            self._held = connection
            with said_alive(connection):
                yield active
        finally:
            self._held = None
            connection.close()  # not activated: rolled back, the pointer as it was

    def activate(self, store: ViewStore) -> None:
        assert isinstance(store, PostgresStore)  # this class opened it
        try:
            if (held := self._held) is not None:
                point_at(held, store.schema)
                held.execute("COMMIT")
            else:
                with self._connect() as connection:
                    ensure_tables(connection, self.default_schema)
                    with connection.transaction():  # (the row held from its check to its move)
                        point_at(connection, store.schema)
        except psycopg.Error as exc:  # the row lost (generations_held), or COMMIT's answer
            raise StoreUnavailable(f"the generation pointer may not have moved: {exc}") from exc
        store.follows_pointer = True  # from now on its live batches check the pointer

    def heartbeat(self, using: Iterable[str], said: int | None = None) -> str:
        try:
            active = self._say(using, said)
        except BaseException:
            self._steady_from = float("inf")  # from the next heartbeat that works
            raise
        now = time.monotonic()
        if self._steady_from == float("inf") or self._after_a_gap(now):
            self._steady_from = now + REGISTRATION_EXPIRY_S
        self._last_said = now
        return active

    def _after_a_gap(self, now: float) -> bool:
        """Whether the last heartbeat is over a third of the expiry old: this process stopped
        (a pause, a blocked loop), and may not have seen an outage meanwhile."""
        return self._last_said is not None and now - self._last_said > REGISTRATION_EXPIRY_S / 3

    def _steady(self) -> bool:
        """Whether registrations older than the expiry are of instances that are gone."""
        now = time.monotonic()
        if self._after_a_gap(now):
            return False  # a gap no heartbeat has noticed yet (a sweep may run before it)
        return now >= self._steady_from

    def _say(self, using: Iterable[str], said: int | None) -> str:
        try:
            with self._saying, self._connect() as connection:
                if said is None or said >= self._said:  # else a newer list is stored
                    register(connection, self.instance, using, self.default_schema)
                    self._said = max(self._said, said or 0)
                # Read after the registrations are stored: a pointer lost (StoreFailed) keeps
                # them, and so this instance's generations, from expiring.
                return active_schema(connection, self.default_schema)
        except psycopg.Error as exc:
            raise pointer_failure(exc, "cannot check the active generation") from exc

    def in_use_elsewhere(self, name: str) -> bool:
        if not self._steady():
            return True  # cannot tell yet: keep it (a later sweep drops it once unused)
        try:
            with self._connect() as connection:
                row = connection.execute(
                    f"SELECT 1 FROM {REGISTRY} WHERE schema_name = %(name)s "
                    f"AND instance <> %(instance)s AND {_LIVE}",
                    {"name": name, "instance": self.instance, "expiry": REGISTRATION_EXPIRY_S},
                ).fetchone()
        except (psycopg.Error, StoreUnavailable):
            return True  # cannot tell: keep it (a later start drops it once unused)
        return row is not None

    def discard(self, store: ViewStore) -> None:
        assert isinstance(store, PostgresStore)
        store.close()
        try:
            with self._connect() as connection, connection.transaction():
                lock_wait(connection, DISCARD_LOCK_WAIT_MS)  # (generations_held)
                batch_limits(connection)  # (generations_held)
                ensure_tables(connection, self.default_schema)
                # (generations_sweep)
                if not drop_unless_active(connection, store.schema, self.default_schema):
                    log.warning(
                        "not dropping the active generation", extra={"generation": store.name}
                    )
        except psycopg.errors.LockNotAvailable as exc:
            raise StoreUnavailable(
                f"cannot drop generation {store.name}: a lock on it stayed held by another"
                f" session for {DISCARD_LOCK_WAIT_MS / 1000:g} s ({exc})"
            ) from exc
        except psycopg.Error as exc:  # (a rebuild's failure path calls it, often in an outage)
            raise StoreUnavailable(f"cannot drop generation {store.name}: {exc}") from exc

    def discard_abandoned(self) -> list[str]:
        """Generation schemas neither active nor used by a live instance: a rebuild whose
        instance died, or a retired generation an instance still used when it was retired. One
        that cannot be dropped is logged and left to a later sweep (generations_sweep)."""
        if not self._steady():
            return []  # cannot tell yet (a later sweep)
        with self._connect() as connection:
            ensure_tables(connection, self.default_schema)
            try:
                # The schemas first: a rebuild registers its generation before it creates it,
                # so each schema read here is, if in use, registered by the time `used` is read
                # (each statement sees what was committed when it began).
                schemas = generation_schemas(connection, self.default_schema)
                active = active_schema(connection, self.default_schema)
                used = {
                    str(r[0])
                    for r in connection.execute(
                        f"SELECT schema_name FROM {REGISTRY} WHERE {_LIVE}",
                        {"expiry": REGISTRATION_EXPIRY_S},
                    ).fetchall()
                }
            except psycopg.Error as exc:
                raise pointer_failure(exc, "cannot list the unused generations") from exc
            found = [s for s in schemas if s != active and s not in used]
            self._delete_dead(connection)
            return drop_each(connection, found, self.default_schema)

    def _delete_dead(self, connection: psycopg.Connection[Any]) -> None:
        """Delete the registrations of instances gone for REGISTRATION_DELETE_S (never this
        one's). Rows locked are skipped, not waited for: an instance is saying them again (a
        frozen one, in its heartbeat's transaction, held a start's sweep for as long). As the
        drops, housekeeping: a failure is logged, and the next sweep tries again."""
        try:
            rows = connection.execute(
                f"DELETE FROM {REGISTRY} WHERE (instance, schema_name) IN "
                f"(SELECT instance, schema_name FROM {REGISTRY} "
                f"WHERE instance <> %(instance)s AND {_DEAD} FOR UPDATE SKIP LOCKED) "
                "RETURNING instance",
                {"instance": self.instance, "after": REGISTRATION_DELETE_S},
            ).fetchall()
        except psycopg.Error as exc:
            log.warning("could not delete the registrations of instances gone: %s", exc)
            return
        if gone := sorted({str(r[0]) for r in rows}):
            log.info("deleted the registrations of instances gone", extra={"instances": gone})
