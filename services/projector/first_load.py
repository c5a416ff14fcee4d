"""The first catch-up in parts (SQLite; issue #11): a projector starting on views that applied
nothing, against a topic of at least `first_load_min_records` records, loads the topic up to the
ends it sees at start on `rebuild_workers` processes (rebuild_split.py), each doing for its
partitions all the live consumer would have done (rebuild_split_worker.py): the change feed,
the dead letters, the restatements and their debts. One transaction merges the parts into the
active generation; the live consumer then goes on from the merged offsets, as from any stored
offsets. One process caught up at about a third of the raw consume and decode rate.

Nothing of it is in the active generation before the merge commits: a SIGKILL at any moment
leaves views that applied nothing (the next start goes on with the parts from where they wrote,
as the live consumer goes on from its store: first_load_parts.py; only the batches the kill
caught between their dead letters or restatements and their write keep them again, the
duplicates any crash writes) or the merged ones (the next start goes on from them and deletes
the parts). A load that fails or is not merged leaves the catch-up to the live consumer, as
before this module, but for the dead letters below where the parts wrote: they wrote those
(`dead_letters_from`; a worker killed mid-batch: that batch's, again, as any crash). Their
restatements may be written again (duplicates: they depend on the part's views). Parts two of
which hold one key (partitions added) are merged as far as they can be (merged_parts): the live
consumer loads only the others' partitions again."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition

from catalog_contract.consumer_stop import stop_consumer
from projector import first_load_parts as parts
from projector.generations import SqliteGenerations
from projector.rebuild_split import load_in_parts
from projector.rebuild_status import RebuildStatus
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from runtime_support.clean_up_after import Closings

if TYPE_CHECKING:
    from projector.runtime import Runtime

log = logging.getLogger(__name__)
# The look at the topic's bounds comes before the live consumer starts: each of its requests is
# given this long (aiokafka's default, 40 s), the look as a whole LOOK_TIMEOUT_S; past that the
# live consumer starts (and waits for Kafka itself), catching up alone.
LOOK_REQUEST_TIMEOUT_MS = 5000
LOOK_TIMEOUT_S = 10.0


def first_load_targets(
    beginnings: dict[int, int], ends: dict[int, int], min_records: int
) -> dict[int, int] | None:
    """Partition -> the end to load up to in parts, or None (the live consumer loads it all):
    at least `min_records` records between the partitions' beginnings and ends, and two
    partitions with records to share between the workers (whether the views applied nothing
    and there are two workers is decided before the look: load_first, may_load_in_parts). Pure."""
    targets = {p: end for p, end in sorted(ends.items()) if end > beginnings.get(p, 0)}
    held = sum(end - beginnings.get(p, 0) for p, end in targets.items())
    if held < min_records or len(targets) < 2:
        return None
    return targets


async def topic_bounds(
    settings: ProjectorSettings, closings: Closings
) -> tuple[dict[int, int], dict[int, int]]:
    """Each partition's beginning and end offsets, now; TimeoutError after LOOK_TIMEOUT_S. The
    look's consumer is closed by a task of `closings` (Runtime.stop waits for them)."""
    consumer = AIOKafkaConsumer(
        **settings.consumer_options(),
        group_id=None,
        enable_auto_commit=False,
        client_id="catalog-stream-projector-first-load",
        request_timeout_ms=LOOK_REQUEST_TIMEOUT_MS,
    )
    # Shielded: aiokafka's start cancelled while its bootstrap connection waits for the
    # metadata leaves that connection open for good ("Unclosed AIOKafkaConnection", a
    # ResourceWarning, when collected): `stop` does not know it yet. Past the look's bound the
    # start goes on by itself (each of its requests bounded), the consumer stopped after it.
    start = asyncio.create_task(consumer.start())
    try:
        async with asyncio.timeout(LOOK_TIMEOUT_S):
            await asyncio.shield(start)
            # One metadata request naming the topic (aiokafka has no public call that keeps
            # the answer: `topics()` drops it); a topic not there yet has no partitions.
            await consumer._client.add_topic(settings.topic)
            found = consumer.partitions_for_topic(settings.topic) or set()
            partitions = [TopicPartition(settings.topic, p) for p in sorted(found)]
            if not partitions:
                return {}, {}
            beginnings = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
    finally:
        # Its own task: a cancellation (a stop) cannot skip `consumer.stop()`. A start still
        # under way (the look out of time, or stopped) is not waited for here: the live
        # consumer starts at the bound, and the stop's cancellation is not held up. A stop
        # then ends that start at once (`_interrupt`) rather than wait up to a request timeout
        # per bootstrap server for it.
        closing = closings.after(
            start, functools.partial(_stopped, consumer), functools.partial(_interrupt, start)
        )
        if start.done():
            await asyncio.shield(closing)  # (quick: the connections are closed)
    return (
        {tp.partition: o for tp, o in beginnings.items()},
        {tp.partition: o for tp, o in ends.items()},
    )


async def _stopped(consumer: AIOKafkaConsumer) -> None:
    """Once its start ended (what that raised was raised to the look already, or the look no
    longer needs it): its connections closed."""
    try:
        await stop_consumer(consumer)
    except Exception as exc:  # (this task's result is read by nobody)
        log.warning("could not close the look at the topic's bounds: %r", exc)


def _interrupt(start: asyncio.Task[None]) -> None:
    """End aiokafka's start now (a stop), with no connection left open. A cancellation is safe
    anywhere in it but one place: its bootstrap's metadata request, whose connection only that
    coroutine holds and closes only if the request fails (not if it is cancelled). That
    connection, if the start waits there, is closed once the cancellation has ended the start.
    Found in the coroutine's frame (no aiokafka call says it): if aiokafka's bootstrap changes,
    none is found, and a stop under strict warnings fails the look's stop tests
    (tests/integration/test_projector_stop_during_look.py)."""
    if start.done():
        return
    connection = _bootstrap_connection(start)
    start.cancel()
    if connection is not None:
        start.add_done_callback(lambda _: connection.close())


def _bootstrap_connection(start: asyncio.Task[None]) -> Any:
    """The connection aiokafka's bootstrap holds, if the start is in its bootstrap (possibly
    one it closed already: closing it again does nothing)."""
    awaited: Any = start.get_coro()
    while awaited is not None:
        if getattr(awaited, "cr_code", None) is AIOKafkaClient.bootstrap.__code__:
            frame = awaited.cr_frame
            return None if frame is None else frame.f_locals.get("bootstrap_conn")
        awaited = getattr(awaited, "cr_await", None)
    return None


def may_load_in_parts(runtime: Runtime) -> bool:
    """Whether the settings and the store allow a first catch-up in parts at all (the topic
    and the stored positions decide then): SQLite views one process owns, two workers, and a
    threshold set (0 is off)."""
    generations = runtime.generations
    return (
        isinstance(generations, SqliteGenerations)
        and not generations.shared
        and runtime.settings.rebuild_workers >= 2
        and runtime.settings.first_load_min_records > 0
    )


async def load_first(runtime: Runtime) -> bool:
    """Load the topic into the active generation in parts if it applied nothing and the topic
    is long enough, resuming a killed load's parts (first_load_parts); True once merged (if
    only some parts: the live consumer loads the rest). Progress in `runtime.first_load`
    meanwhile (readiness)."""
    generations = runtime.generations
    assert isinstance(generations, SqliteGenerations)  # (may_load_in_parts)
    # Read here, not through the default thread pool: readers waiting on the store may hold
    # every thread of it, and the live consumer must start whatever they do (a few rows of
    # SQLite: the only store this runs on).
    stored = runtime.store.positions(runtime.settings.topic)
    if stored and not parts.left_behind(generations.path):  # (any restart: a directory read)
        return False
    # (not in a thread: a stop then would leave it taken for the life of the process)
    held_lock = parts.lock(generations.path)
    if held_lock is None:  # another live process loads (a rolling restart): its parts, its load
        log.warning("another process holds the first catch-up's parts: the live consumer loads")
        return False
    try:
        return await _load_first(runtime, generations, stored)
    finally:
        os.close(held_lock)  # (after the parts were deleted, or merged and deleted)


async def _load_first(
    runtime: Runtime, generations: SqliteGenerations, stored: dict[int, int]
) -> bool:
    settings = runtime.settings
    store = runtime.store
    left = parts.left_behind(generations.path)  # (no default pool, as in load_first: nor held)
    if stored:  # a merge committed, then killed before its parts were deleted (or not merged)
        await _discard(runtime, left, [])
        return False
    beginnings, ends = await topic_bounds(settings, runtime.closings)
    targets = first_load_targets(beginnings, ends, settings.first_load_min_records)
    found = [parts.held(p, settings.topic) for p in left]
    if not parts.resumable(found, ends):  # (another topic's, past the ends): loaded anew
        await _discard(runtime, left, [])
        left, found = [], []
    if targets is None or runtime.rebuild_begun():
        # A rebuild asked for while the ends were read (a rebuild is refused only once the
        # load is decided, below, not during that look): it loads the topic itself, and may
        # have switched the views. No await between this and `first_load` set: no race.
        await _discard(runtime, left, found)
        return False
    status = RebuildStatus(state="running", generation=store.name, started_at=time.time())
    status.target = sum(targets.values())
    runtime.first_load = status
    held = [f or {} for f in found]
    log.info("first catch-up in parts", extra={"targets": targets, "resumed": held})
    split = parts.resumed_groups(held, targets, ends, settings.rebuild_workers) if left else []
    # A part left holding no partition, and given none, is not run (it holds nothing).
    going = [n for n, group in enumerate(split) if group]
    resumed = ([SqliteStore(left[n]) for n in going if n < len(left)], [split[n] for n in going])
    reached: dict[int, int] = {}
    merged = False
    try:
        await _discard(runtime, [p for n, p in enumerate(left) if not split[n]], None)
        runtime.first_load_resumed = bool(left)
        merged = await load_in_parts(
            runtime, store, targets, status, True, reached, resumed if left else None
        )
    except Exception as exc:
        status.state, status.error = "failed", str(exc)
        raise
    finally:
        if reached:
            # The parts not merged dead-lettered the unreadable records below where they wrote
            # (before each batch's write): the live consumer, loading their partitions, does
            # not again.
            runtime.projector.dead_letters_from = reached
        # `runtime.first_load` stays set until the live consumer starts (Runtime), so that
        # GET /v1/admin/rebuild says it as long as a rebuild is refused for it.
        status.finished_at = time.time()
    status.state = "done" if merged else "failed"
    if merged and not reached:  # /readyz says it until the live consumer knows its ends
        runtime.first_loaded = status  # (health_routes; not with partitions left to load)
    return merged


async def _discard(
    runtime: Runtime, left: list[Path], found: list[dict[int, int] | None] | None
) -> None:
    """Delete parts left behind. `found`: their positions, if the live consumer now loads
    their partitions alone: it dead-letters nothing again below them (they wrote it)."""
    for part in left:
        await asyncio.to_thread(runtime.generations.discard, SqliteStore(part))
    if written := {p: o for positions in found or [] if positions for p, o in positions.items()}:
        runtime.projector.dead_letters_from = written
