"""A rebuild's load on more than one core (SQLite; issue #11): before the builder starts, worker
processes (rebuild_split_worker.py, run by rebuild_split_run.py) load disjoint groups of partitions,
each into a part file of its own, up to the active generation's positions; then one transaction
merges the parts into the new generation (rows copied, the catalogs' counts added up), and the
rebuild's builder goes on from the merged offsets, as it goes on from any stored offsets: nothing
applied twice, nothing skipped. Below those positions a one-process builder feeds, keeps and
restates nothing, so the parts hold exactly what it would have written; everything at or past them
(the feed, dead letters, restatements and their debts) is still the builder's alone.

Items are keyed by product and a key's records are in one partition, so the groups share no item and
the merge is a copy. A topic whose keys moved between partitions (partitions added) breaks that: the
merge finds a key in two parts, takes nothing, and the builder loads it all.

A part is a generation file never activated (`Generations.open_new`): deleted when the rebuild ends,
whatever its end, and by the next start's `discard_abandoned` if a SIGKILL left it. A worker dies
with the rebuild's process (rebuild_split_worker.die_with). PostgreSQL rebuilds load in one process
(its COPY-based writes are one server's work; not measured split).

The same parts load a first catch-up (first_load.py, `first_load`; its parts are named apart and
resumed after a SIGKILL: first_load_parts.py; a stop keeps them too) into the active generation, the
workers doing all the live consumer would have done; the merge copies their feed and debts too, as
far as no key is in two parts (rebuild_split_merge.merged_parts)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING

from projector.first_load_parts import part_path
from projector.generations import SqliteGenerations
from projector.part_counts import add_counts, read_counts, read_delivery, read_kept, read_windows
from projector.rebuild_split_merge import SplitLoadFailed, merge, merged_parts
from projector.rebuild_split_run import part_positions, run_workers
from projector.sqlite_store import SqliteStore
from projector.store import ViewStore

if TYPE_CHECKING:
    from projector.rebuild_status import RebuildStatus
    from projector.runtime import Runtime

log = logging.getLogger(__name__)
__all__ = ["SplitLoadFailed", "groups", "load_in_parts", "merge"]


def groups(targets: dict[int, int], workers: int) -> list[dict[int, int]]:
    """The partitions with records to load, in at most `workers` groups of about as many
    records each (largest first, each to the group with the fewest so far). Pure."""
    loaded = sorted(((t, p) for p, t in targets.items() if t > 0), key=lambda x: (-x[0], x[1]))
    found: list[dict[int, int]] = [{} for _ in range(min(workers, len(loaded)))]
    for target, partition in loaded:
        min(found, key=lambda g: (sum(g.values()), len(g)))[partition] = target
    return found


async def load_in_parts(
    runtime: Runtime,
    fresh: ViewStore,
    targets: dict[int, int],
    status: RebuildStatus,
    first_load: bool = False,
    reached: dict[int, int] | None = None,
    resumed: tuple[list[SqliteStore], list[dict[int, int]]] | None = None,
) -> bool:
    """Load `fresh` (empty) up to `targets` in parts, if the settings and the store ask for
    it and there are two groups to load; else leave it to the builder (False). `first_load`:
    the parts feed, keep and restate as the live consumer (rebuild_split_worker), into the
    active generation (first_load.py), in `resumed` parts (a killed load's) and their groups
    first; True once merged, if only some (merged_parts), and then in `reached` every partition
    left to the live consumer, with the position its part had written (and kept what it holds:
    consumer_keeping; 0 if none)."""
    workers = runtime.settings.rebuild_workers
    generations = runtime.generations
    if workers < 2 or not isinstance(generations, SqliteGenerations):
        return False
    assert isinstance(fresh, SqliteStore)  # a SQLite generation
    parts, split = resumed if resumed is not None else ([], groups(targets, workers))
    if len(split) < 2 and not parts:
        return False
    parts = list(parts)
    merged: list[int] = []
    said: list[asyncio.Future[bytes]] = []  # the workers' stdout (a first catch-up's)
    try:
        started = time.perf_counter()
        while len(parts) < len(split):
            parts.append(_new_part(generations, [fresh, *parts], first_load))
        for n, part in enumerate(parts):  # (a resumed part killed while it was created: the rest)
            # Shielded: interrupted (a stop), the part is deleted only once the thread making
            # its tables has ended. Closed under that thread, SQLite crashed the process.
            creating = asyncio.ensure_future(asyncio.to_thread(_created, part))
            try:
                await asyncio.shield(creating)
            except asyncio.CancelledError:  # deleted by this clean-up, not by the `finally`
                runtime.closings.after(creating, functools.partial(_discard, runtime, part))
                del parts[n]
                raise
        outputs = await run_workers(runtime, parts, split, status, first_load, said)
        loaded = time.perf_counter()
        paths, topic = [p.path for p in parts], runtime.settings.topic
        merged = await asyncio.to_thread(
            merged_parts, fresh.path, paths, topic, first_load, first_load
        )
        if len(merged) < len(parts):
            log.warning(
                "the first catch-up's parts were not all merged: the live consumer loads the rest"
                if first_load
                else "a key is in partitions of two groups: the rebuild loads in one process",
                extra={"merged": len(merged), "parts": len(parts)},
            )
        for n, output in enumerate(outputs):  # (a first catch-up's: one process counted them)
            counts = read_counts(output)
            if n not in merged:  # read again by the live consumer, its dead letters not written
                counts = {k: v for k, v in counts.items() if k == "dead_lettered"}
            else:
                runtime.delivery.add_totals(read_delivery(output))
                if resumed is None:  # (else read from the topic: runtime.first_load_resumed)
                    runtime.delivery.add_windows(read_windows(output))
            add_counts(runtime.metrics, counts)
        if not merged:
            return False
        seconds = {"load_s": round(loaded - started, 3)}
        seconds["merge_s"] = round(time.perf_counter() - loaded, 3)
        log.info(
            "first catch-up loaded in parts" if first_load else "rebuild loaded in parts",
            extra={"parts": len(merged), "targets": targets, **seconds},
        )
        return True
    except asyncio.CancelledError:
        reached = None  # a stop: no live consumer follows, and no wait for the workers' word
        if first_load:
            # Its parts are kept, as a kill keeps them (its workers were killed): the next start
            # goes on with them (first_load_parts) rather than load, dead-letter and restate
            # again what they hold. Deleted, a deploy's SIGTERM cost all of that.
            log.info("first catch-up stopped; its parts are kept for the next start")
            parts = []  # (none for the clean-up below to delete)
        raise
    finally:
        if reached is not None and len(merged) < len(parts):
            left = [n for n in range(len(parts)) if n not in merged]
            for n in left:
                reached.update(dict.fromkeys(split[n], 0))
            await _reached(
                runtime, [parts[n] for n in left], [said[n] for n in left if n < len(said)], reached
            )
        for part in parts:
            with contextlib.suppress(Exception):  # else the next start deletes it
                await asyncio.to_thread(generations.discard, part)


async def _reached(
    runtime: Runtime,
    parts: list[SqliteStore],
    said: list[asyncio.Future[bytes]],
    reached: dict[int, int],
) -> None:
    """Below where each partition's dead letters were written by a part: where the part
    wrote, or further, where its worker said it kept (a batch kept, then its worker killed
    before the write). Nothing read: the live consumer keeps it again (duplicates)."""
    for part in parts:
        with contextlib.suppress(Exception):  # read before the part is deleted
            reached.update(await asyncio.to_thread(part_positions, part, runtime))
    for output in said:
        with contextlib.suppress(Exception):  # (the workers are dead: their stdout ends)
            for partition, kept in read_kept(await asyncio.wait_for(output, 5)).items():
                reached[partition] = max(reached.get(partition, 0), kept)


def _new_part(
    generations: SqliteGenerations, taken: list[SqliteStore], first_load: bool
) -> SqliteStore:
    while True:  # named by the clock, like a generation: never one already taken
        part = SqliteStore(part_path(generations.path)) if first_load else generations.open_new()
        if all(part.path != t.path for t in taken):
            return part


async def _discard(runtime: Runtime, part: SqliteStore) -> None:
    with contextlib.suppress(Exception):  # else the next start deletes it
        await asyncio.to_thread(runtime.generations.discard, part)


def _created(part: SqliteStore) -> None:
    part.create(False)
    part.close()  # the worker writes it
