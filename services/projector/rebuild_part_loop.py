"""The consumer loop of a split rebuild's worker (rebuild_split_worker.py): the rebuild's consumer
loop on a group of partitions, assigned (no group), into its part (rebuild_part_store.py), cut at
the positions the rebuild targets. A first catch-up's (`keeping`) feeds, keeps and restates as the
live consumer does; a rebuild's does none of that (the active generation did it)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from projector.batch import BatchPlan
from projector.consumer import ConsumerLoop
from projector.consumer_ahead import Ahead
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.metrics import ProjectorMetrics
from projector.part_counts import kept_line
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from projector.topic_writer import TopicWriter

STDOUT = 1


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
