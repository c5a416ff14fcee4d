"""One process of a split rebuild (rebuild_split.py): the rebuild's consumer loop on a group of
partitions, into a SQLite file of its own (a part), up to the positions the rebuild targets and
never past them. Below those positions a one-process rebuild's builder feeds no change, keeps no
dead letter and restates nothing (the active generation did all of that), so this loop has none
of those either: what it writes is what that builder would have written for the same records.

A first catch-up in parts (first_load.py, `Orders.first_load`) is the other way round: no
generation kept anything of these records, so the loop does all the live consumer does for them,
as the live consumer does it: feeds every change, dead-letters the unreadable records, restates
(or owes the restatements, in the part: the merge copies the debts) and retries what it owes.

Started by the rebuild with `python -m projector.rebuild_split_worker`; its orders come pickled
on stdin (the Kafka settings may hold credentials: never on the command line), and stdin then
stays open: its end, or the parent-death signal, ends this process at once when the rebuild's
process dies, however it dies."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import pickle
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from projector.batch import BatchPlan
from projector.consumer import ConsumerLoop
from projector.consumer_ahead import Ahead
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.metrics import ProjectorMetrics
from projector.part_counts import counts_line, delivery_line, kept_line
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from projector.topic_writer import TopicWriter
from runtime_support.logs import configure_logging

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
STDIN, STDOUT = 0, 1


@dataclass(frozen=True)
class Orders:
    settings: ProjectorSettings
    path: Path  # the part's file, its tables created (without the read indexes)
    targets: dict[int, int]  # partition -> load every record below this offset, none at or past
    parent: int  # the rebuild's process id
    first_load: bool = False  # a first catch-up: feed, keep and restate as the live consumer
    catchup_factor: int = ConsumerLoop.catchup_factor  # the parent's (a test may set it)


class PartStore(SqliteStore):
    """A part's file. A catalog whose items in this part's partitions all went keeps its row
    (counts 0, the newest item time this part saw): its items in other parts may have kept it
    from ever emptying in one process, whose row then holds that time too. Deleted, the time
    was lost in the merge (test_rebuild_split_catalog_time). The merge deletes the rows whose
    counts add up to none, as every batch of one process does."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._batch_write.drop_if_empty = "DELETE FROM catalogs WHERE catalog_id = ? AND 0"


class TargetLoop(ConsumerLoop):
    """The consumer loop on the partitions of `targets`, its records cut at their targets."""

    def __init__(
        self,
        settings: ProjectorSettings,
        store: SqliteStore,
        targets: dict[int, int],
        keeping: bool = False,
    ):
        metrics = ProjectorMetrics()
        self.writer: TopicWriter | None = None
        if keeping:  # a first catch-up (module doc): what the live consumer (Runtime) has
            self.writer = writer = TopicWriter(settings)
            restater = RestatementWriter(settings, metrics, writer) if settings.restate else None
            dead_letters = DeadLetterWriter(settings, metrics, writer)
            super().__init__(
                settings, store, metrics, restater=restater, dead_letters=dead_letters,
                delivery=DeliveryStats(settings.delivery_max_catalogs),  # (its postbacks)
            )  # fmt: skip
        else:
            super().__init__(settings, store, metrics, feed_from=targets)
        self.targets = targets
        # partition -> one past the last record below its target this loop was handed: applied
        # up to there, the partition is done once Kafka's position passed the target
        self.handed: dict[int, int] = {}

    def _subscribed(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            **self.settings.consumer_options(),
            group_id=None,  # assigned, not a group: the part's offsets are in its file
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="catalog-stream-projector-rebuild-part",
        )
        consumer.assign([TopicPartition(self.settings.topic, p) for p in self.targets])
        return consumer

    async def _start(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        # Kafka unreachable at the start is waited for, as the one-process builder waits (it
        # gave up at once: the split rebuild failed where one process would have gone on). As
        # long as the rebuild runs: its end, however it ends, ends this process (die_with).
        await super()._start(consumer, stop)
        if not stop.is_set():
            await self._seek_to_stored(consumer, consumer.assignment())

    def _start_plan(
        self, raw: list[Any], applied: dict[int, int], after: BatchPlan | None = None
    ) -> Ahead:
        # Every path from a fetch to a plan comes through here, so no record at or past its
        # partition's target is ever planned (nor written, nor dead-lettered one by one).
        below = [m for m in raw if m.offset < self.targets[m.partition]]
        for m in below:
            self.handed[m.partition] = max(self.handed.get(m.partition, 0), m.offset + 1)
        return super()._start_plan(below, applied, after)

    async def _commit_for_tools(self, *args: Any, **kwargs: Any) -> None:
        """No group to mirror offsets to: the part is merged, then deleted."""

    async def _note_passed(self, consumer: AIOKafkaConsumer) -> None:
        """Nothing noted: Kafka's position here is past records at or past the targets, fetched
        and never handed on (_start_plan), so it is no offset below which every record is
        applied (test_rebuild_split_target_lag). `done` asks the position itself, against the
        targets."""

    def _count(self, plan: BatchPlan) -> None:
        """No one reads a part's counts. Its unreadable records: a rebuild's (all below the
        targets) were dead-lettered by the live consumer, a first catch-up's by this loop (its
        dead letters logged): none is logged as skipped. A first catch-up's are counted: the
        projector adds them to its own once merged (part_counts.py)."""
        if self.writer is not None:
            super()._count(plan)

    def _kept(self, plan: BatchPlan, written: bool) -> None:
        """A first catch-up's: say how far it kept as soon as it did (a line on stdout), so
        that a load failing after this batch's dead letters and before its write does not
        leave them to be written again (rebuild_split._reached)."""
        before = dict(self.kept)
        super()._kept(plan, written)
        if self.writer is not None and self.kept != before:
            os.write(STDOUT, kept_line(self.kept))

    async def done(self) -> bool:
        """Every partition is loaded up to its target: its last record below it applied. That
        is the record just below the target, or, where compaction removed it (a gap), the last
        one Kafka has below it, known once Kafka's position for the partition passed the target
        (past the gap: at a later record, or past a batch compaction emptied), or reached the
        partition's end where that is below the target."""
        consumer = self._consumer
        if self._writing is not None:
            # Mid-write the loop may have fetched past the target and not yet handed on what
            # it fetched below it (consumer.py reads the next records while a batch is written).
            return False
        for partition, target in self.targets.items():
            reached = self.applied.get(partition, 0)
            if reached >= target:
                continue
            if consumer is None or reached < self.handed.get(partition, 0):
                return False
            tp = TopicPartition(self.settings.topic, partition)
            if tp not in consumer.assignment():
                return False
            # A target past the partition's end (the active generation applied offsets a
            # truncated or remade log no longer has): Kafka's position never passes it. All
            # there is is applied at the end; the builder goes on from there, as one process
            # does (test_rebuild_split_past_end: else the rebuild never ends).
            end = consumer.highwater(tp)
            if await consumer.position(tp) < (target if end is None else min(target, end)):
                return False
        return True


async def load(orders: Orders) -> None:
    started = time.perf_counter()
    log.info("rebuild part started", extra={"part": orders.path.name})
    store = PartStore(orders.path)
    loop = TargetLoop(orders.settings, store, orders.targets, orders.first_load)
    loop.catchup_factor = orders.catchup_factor
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        while not await loop.done():
            if task.done():
                task.result()  # raises what ended it
                raise RuntimeError("the part's consumer loop stopped before its targets")
            await asyncio.sleep(0.05)
        stop.set()
        await task
        positions = store.positions(orders.settings.topic)
        if any(positions.get(p, 0) > t for p, t in orders.targets.items()):  # never: a defect
            raise RuntimeError(f"a part went past its targets: {positions} > {orders.targets}")
        if orders.first_load:
            assert loop.delivery is not None
            # (its logs go to stderr; the counts line last, read_counts reads the last line)
            os.write(STDOUT, delivery_line(loop.delivery) + counts_line(loop.metrics))
        seconds = round(time.perf_counter() - started, 3)
        log.info("rebuild part loaded", extra={"part": orders.path.name, "seconds": seconds})
    finally:
        stop.set()
        if not task.done():
            task.cancel()
        if loop.writer is not None:
            await loop.writer.stop()
        store.close()


def die_with(parent: int) -> None:
    """End this process as soon as `parent` dies: the kernel's parent-death signal, and the end
    of stdin (the parent's end of the pipe closes with it) for any case the signal misses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(3)

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread inside a buffered reader's lock aborts the
        # interpreter's shutdown (SIGABRT, found by the equivalence test).
        while os.read(STDIN, 4096):
            pass
        os._exit(3)  # no cleanup: the rebuild (or the next start) deletes the part

    threading.Thread(target=watch, daemon=True).start()


def read_orders() -> Orders:
    size = int.from_bytes(_read_exactly(8), "big")
    orders = pickle.loads(_read_exactly(size))  # noqa: S301 (from the parent process, by a pipe)
    if not isinstance(orders, Orders):
        raise TypeError(f"not orders: {type(orders)}")
    return orders


def _read_exactly(size: int) -> bytes:
    data = b""
    while len(data) < size:
        if not (more := os.read(STDIN, size - len(data))):
            raise EOFError("the rebuild's orders were cut short")
        data += more
    return data


def orders_bytes(orders: Orders) -> bytes:
    data = pickle.dumps(orders)
    return len(data).to_bytes(8, "big") + data


def main() -> None:
    orders = read_orders()
    die_with(orders.parent)
    configure_logging()  # on the rebuild's stderr, as its own logs
    asyncio.run(load(orders))


if __name__ == "__main__":
    # Run as the package's module, not as __main__: the pickled orders name its classes.
    from projector.rebuild_split_worker import main as package_main

    package_main()
