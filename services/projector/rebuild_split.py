"""A rebuild's load on more than one core (SQLite; issue #11): before the builder starts, worker
processes (rebuild_split_worker.py) load disjoint groups of partitions, each into a part file of
its own, up to the active generation's positions; then one transaction merges the parts into the
new generation (rows copied, the catalogs' counts added up), and the rebuild's builder goes on
from the merged offsets, as it goes on from any stored offsets: nothing applied twice, nothing
skipped. Below those positions a one-process builder feeds, keeps and restates nothing, so the
parts hold exactly what it would have written; everything at or past them (the feed, dead
letters, restatements and their debts) is still the builder's alone.

Items are keyed by product and a key's records are in one partition, so the groups share no
item and the merge is a copy. A topic whose keys moved between partitions (partitions added)
breaks that: the merge finds a key in two parts, takes nothing, and the builder loads it all.

A part is a generation file never activated (`Generations.open_new`): deleted when the rebuild
ends, whatever its end, and by the next start's `discard_abandoned` if a SIGKILL left it. A
worker dies with the rebuild's process (rebuild_split_worker.die_with). PostgreSQL rebuilds load
in one process (its COPY-based writes are one server's work; not measured split)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from projector.errors import ProjectorError
from projector.generations import SqliteGenerations
from projector.rebuild_split_worker import Orders, orders_bytes
from projector.rows import ITEM_COLUMNS, REMOVAL_COLUMNS
from projector.sqlite_store import SqliteStore
from projector.store import ViewStore

if TYPE_CHECKING:
    from projector.rebuilding import RebuildStatus
    from projector.runtime import Runtime

log = logging.getLogger(__name__)
WORKER = "projector.rebuild_split_worker"


class SplitLoadFailed(ProjectorError):
    """A part of the load failed: the rebuild fails (the active generation keeps serving)."""


def groups(targets: dict[int, int], workers: int) -> list[dict[int, int]]:
    """The partitions with records to load, in at most `workers` groups of about as many
    records each (largest first, each to the group with the fewest so far). Pure."""
    loaded = sorted(((t, p) for p, t in targets.items() if t > 0), key=lambda x: (-x[0], x[1]))
    found: list[dict[int, int]] = [{} for _ in range(min(workers, len(loaded)))]
    for target, partition in loaded:
        min(found, key=lambda g: (sum(g.values()), len(g)))[partition] = target
    return found


async def load_in_parts(
    runtime: Runtime, fresh: ViewStore, targets: dict[int, int], status: RebuildStatus
) -> None:
    """Load `fresh` (empty) up to `targets` in parts, if the settings and the store ask for
    it and there are two groups to load; else leave it to the builder."""
    workers = runtime.settings.rebuild_workers
    generations = runtime.generations
    if workers < 2 or not isinstance(generations, SqliteGenerations):
        return
    assert isinstance(fresh, SqliteStore)  # a SQLite generation
    split = groups(targets, workers)
    if len(split) < 2:
        return
    parts: list[SqliteStore] = []
    try:
        started = time.perf_counter()
        for _ in split:
            parts.append(_new_part(generations, [fresh, *parts]))
            await asyncio.to_thread(_created, parts[-1])
        await _run_workers(runtime, parts, split, status)
        loaded = time.perf_counter()
        topic = runtime.settings.topic
        if await asyncio.to_thread(merge, fresh.path, [p.path for p in parts], topic):
            seconds = {"load_s": round(loaded - started, 3)}
            seconds["merge_s"] = round(time.perf_counter() - loaded, 3)
            log.info(
                "rebuild loaded in parts",
                extra={"parts": len(parts), "targets": targets, **seconds},
            )
        else:
            log.warning("a key is in partitions of two groups: the rebuild loads in one process")
    finally:
        for part in parts:
            with contextlib.suppress(Exception):  # else the next start deletes it
                await asyncio.to_thread(generations.discard, part)


def _new_part(generations: SqliteGenerations, taken: list[SqliteStore]) -> SqliteStore:
    while True:  # named by the clock, like a generation: never one already taken
        part = generations.open_new()
        if all(part.path != t.path for t in taken):
            return part


def _created(part: SqliteStore) -> None:
    part.create(False)
    part.close()  # the worker writes it


async def _run_workers(
    runtime: Runtime, parts: list[SqliteStore], split: list[dict[int, int]], status: RebuildStatus
) -> None:
    """Run one worker per part until all succeeded; the first to fail fails the load, and
    every worker still running is killed (also when this is cancelled)."""
    started: list[asyncio.subprocess.Process] = []
    status.target = sum(sum(g.values()) for g in split)
    try:
        for part, targets in zip(parts, split, strict=True):
            orders = Orders(runtime.settings, part.path, targets, parent=os.getpid())
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", WORKER, stdin=asyncio.subprocess.PIPE
            )
            started.append(process)
            assert process.stdin is not None
            process.stdin.write(orders_bytes(orders))  # then left open: it watches for its end
            await process.stdin.drain()
        waits = {asyncio.ensure_future(p.wait()): n for n, p in enumerate(started)}
        pending = set(waits)
        while pending:
            done, pending = await asyncio.wait(pending, timeout=0.2)
            for ended in done:
                if (code := ended.result()) != 0:
                    raise SplitLoadFailed(f"rebuild part {waits[ended]} exited with {code}")
            await _report(runtime, parts, status)
    finally:
        for process in started:
            if process.returncode is None:
                process.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(process.wait())
            if process.stdin is not None:
                process.stdin.close()


async def _report(runtime: Runtime, parts: list[SqliteStore], status: RebuildStatus) -> None:
    """How far the parts are, as the rebuild's progress (their files read, not written)."""
    applied = 0
    for part in parts:
        with contextlib.suppress(ProjectorError):  # a worker may still be creating its tables
            applied += sum((await asyncio.to_thread(_positions, part, runtime)).values())
    status.applied = applied
    runtime.metrics.rebuild_applied.set(applied)
    runtime.metrics.rebuild_target.set(status.target)


def _positions(part: SqliteStore, runtime: Runtime) -> dict[int, int]:
    try:
        return part.positions(runtime.settings.topic)
    finally:
        part.close()


_ITEMS = ", ".join(f'"{c}"' for c in ITEM_COLUMNS)
_REMOVALS = ", ".join(f'"{c}"' for c in REMOVAL_COLUMNS)
_COPIES = {
    "items": _ITEMS,
    "removals": _REMOVALS,
    "owed_restatements": 'catalog_id, item_id, "partition", "offset"',
    "offsets": 'topic, "partition", next_offset',
}
# As a batch adds a catalog's counts (store_write.BatchWrite.count_catalog), a part at a time.
_ADD_CATALOGS = (
    "INSERT INTO catalogs (catalog_id, item_count, in_stock, out_of_stock, last_change_at) "
    "SELECT catalog_id, item_count, in_stock, out_of_stock, last_change_at FROM {part}.catalogs "
    "WHERE true ON CONFLICT (catalog_id) DO UPDATE SET "
    "item_count = catalogs.item_count + excluded.item_count, "
    "in_stock = catalogs.in_stock + excluded.in_stock, "
    "out_of_stock = catalogs.out_of_stock + excluded.out_of_stock, "
    "last_change_at = CASE WHEN excluded.last_change_at > COALESCE(catalogs.last_change_at, 0) "
    "THEN excluded.last_change_at ELSE catalogs.last_change_at END"
)


class _KeysShared(Exception):
    """A key is in two parts: the merge takes nothing."""


def merge(fresh: Path, parts: list[Path], topic: str) -> bool:
    """Copy the parts into the empty generation `fresh` in one transaction; False (nothing
    copied) if a key is in two of them."""
    db = sqlite3.connect(fresh, timeout=30, isolation_level=None)
    try:
        for n, part in enumerate(parts):  # outside the transaction, as SQLite requires
            db.execute(f"ATTACH DATABASE ? AS part{n}", (str(part),))
        db.execute("BEGIN IMMEDIATE")
        try:
            _copy(db, len(parts), topic)
        except (_KeysShared, sqlite3.IntegrityError) as exc:
            _roll_back(db)
            log.info("rebuild parts not merged: %s", exc)
            return False
        except BaseException:
            _roll_back(db)
            raise
        db.execute("COMMIT")
        return True
    except sqlite3.Error as exc:
        raise SplitLoadFailed(f"could not merge the rebuild's parts: {exc}") from exc
    finally:
        db.close()


def _roll_back(db: sqlite3.Connection) -> None:
    """SQLite rolls some failures back itself (a full disk, an I/O error): a ROLLBACK then
    fails with "no transaction is active", and that error hid the one being handled."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # (the connection is closed next anyway)
            db.execute("ROLLBACK")


def _copy(db: sqlite3.Connection, parts: int, topic: str) -> None:
    if db.execute("SELECT COUNT(*) FROM offsets").fetchone()[0]:
        raise SplitLoadFailed("the new generation is not empty")  # a defect: never merged twice
    for n in range(parts):
        for table in ("changes", "owed_restatements"):  # below the targets: none (module doc)
            if db.execute(f"SELECT COUNT(*) FROM part{n}.{table}").fetchone()[0]:  # noqa: S608
                raise SplitLoadFailed(f"a rebuild part wrote {table}")
        if db.execute(
            f"SELECT COUNT(*) FROM part{n}.offsets WHERE topic != ?",  # noqa: S608
            (topic,),
        ).fetchone()[0]:
            raise SplitLoadFailed("a rebuild part holds another topic's offsets")
        for table, columns in _COPIES.items():
            db.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM part{n}.{table}"  # noqa: S608
            )
        db.execute(_ADD_CATALOGS.format(part=f"part{n}"))
    # A part keeps a catalog its partitions emptied (rebuild_split_worker.PartStore); one
    # process keeps none whose items all went, after any batch.
    db.execute("DELETE FROM catalogs WHERE item_count <= 0")
    # One store never holds a key in both (a batch drops the row or the marker it replaces):
    # here only a key two parts hold would.
    if db.execute(
        "SELECT 1 FROM items JOIN removals USING (catalog_id, item_id) LIMIT 1"
    ).fetchone():
        raise _KeysShared("a key is both an item of one part and a removal of another")
