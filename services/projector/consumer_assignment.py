"""The Kafka consumer of one consumer loop and the partitions the group assigns it: created,
subscribed and started here, and where each assigned partition stands in the store. Offsets live
in the store, not in Kafka: on assignment the consumer seeks to them, and only a batch planned on
positions read since its partitions were assigned is kept, restated or written. The consumer loop
(consumer.py) mixes this in; ConsumerProgress says what it tells readers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from projector.batch import BatchPlan
from projector.consumer_progress import ConsumerProgress
from projector.errors import ProjectorError, StoreFailed, StoreUnavailable
from projector.settings import ProjectorSettings
from projector.store import ViewStore

log = logging.getLogger(__name__)


class StoredPositions(ConsumerProgress):
    """Mixed into ConsumerLoop, which sets these in its __init__."""

    settings: ProjectorSettings
    store: ViewStore
    kept: dict[int, int]  # partition -> the offset below which records were kept (BatchKeeping)
    # Partitions whose stored position was read since they were assigned: only a batch
    # planned on those positions is kept, restated or written (_planned_where_stored).
    _positioned: set[int]
    _writing: asyncio.Future[None] | None  # a batch being written
    mirror_stored: set[int]  # mirror these partitions' stored positions once assigned
    behind: dict[int, tuple[int, int]]  # partitions said behind the views (TopicBehind)
    progress: asyncio.Condition
    _in_store_thread: Callable[..., Awaitable[Any]]
    # Why the store refuses batches, if no retry mends it (StoreFailed: the generation pointer
    # lost or naming no generation); None once one is written. /readyz says it.
    defect: str | None = None

    def _not_written(self, exc: ProjectorError) -> None:
        """Say a batch the store did not take: an outage's each time, at WARNING; a defect
        once, at ERROR (it was a warning a second, for ever, as if an outage)."""
        if not isinstance(exc, StoreFailed):
            log.warning("batch not written, re-reading positions: %s", exc)
        elif self.defect is None:
            log.error("the store refuses batches, tried again every second until mended: %s", exc)
        self.defect = str(exc) if isinstance(exc, StoreFailed) else None

    def _written_again(self) -> None:
        if self.defect is not None:
            log.info("the store takes batches again")
            self.defect = None

    def _subscribed(self) -> AIOKafkaConsumer:
        """A consumer of the product topic in the loop's group, seeking to the store's
        positions on each assignment."""
        consumer = AIOKafkaConsumer(
            **self.settings.consumer_options(),
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            # No reset of its own: a position out of range is said (TopicBehind._fetch)
            auto_offset_reset="none",
            session_timeout_ms=self.settings.session_timeout_ms,
            max_poll_interval_ms=self.settings.max_poll_interval_ms,
            heartbeat_interval_ms=max(1000, self.settings.session_timeout_ms // 4),
            # Partitions added to the topic: seen, and the group rebalanced onto them, within it
            metadata_max_age_ms=self.settings.metadata_max_age_ms,
            client_id="catalog-stream-projector",
        )
        consumer.subscribe([self.settings.topic], listener=_Rebalance(self, consumer))
        return consumer

    async def _start(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                await consumer.start()
                return
            except KafkaError as exc:
                log.warning("kafka not reachable yet: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _planned_where_stored(self, plan: BatchPlan) -> bool:
        """Whether the batch was planned from where the store stands. aiokafka hands out records
        of a partition just assigned, fetched from the group's Kafka offsets (a mirror, behind
        the store), while the assignment listener still reads the store's positions: such a
        batch is planned as if nothing was applied there. The store would refuse it, but it
        must not even be kept or restated (that wrote restatements of records the views had
        applied, and dead letters again): it is dropped, and the partitions read again from
        the store's positions."""
        for partition, planned_from in plan.planned_from.items():
            if partition not in self._positioned or self.applied.get(partition, 0) != planned_from:
                log.info("batch planned before the store's positions were read; reading again",
                         extra={"partition": partition, "planned_from": planned_from})  # fmt: skip
                return False
        return True

    async def _settle(self) -> None:
        """Let a batch being written finish (a rebalance waits for it)."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writing)

    async def _seek_to_stored_once_it_answers(
        self, consumer: AIOKafkaConsumer, stop: asyncio.Event
    ) -> None:
        """Back to the store's positions after a batch it did not take, trying every second
        while the store cannot say them (a database restart): the failure is not the loop's
        end, and the loop ends only at `stop`. Said once when it fails, once when it works."""
        failing = False
        while not stop.is_set():
            try:
                await self._seek_to_stored(consumer, consumer.assignment())
            except StoreUnavailable as exc:
                if not failing:
                    log.warning("cannot read the store's positions, retrying every second: %s", exc)
                    failing = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1)
                continue
            if failing:
                log.info("the store answers again: consuming from its positions")
            return

    async def _seek_to_stored(
        self, consumer: AIOKafkaConsumer, assigned: Iterable[TopicPartition]
    ) -> None:
        self._repositioned += 1  # (before the read: a position asked meanwhile is not kept)
        stored = await self._in_store_thread(self.store.positions, self.settings.topic)
        said = await self._in_store_thread(self.store.behind, self.settings.topic)  # (attack35)
        for tp in assigned:
            # Looked at each time: a rebalance during an await (the store's read, a seek to the
            # beginning) may have taken it, and seeking it raised IllegalStateError out of the
            # batch loop (test_projector_seek_during_rebalance). No await from here to its seek.
            if tp not in consumer.assignment():
                continue
            self._positioned.add(tp.partition)
            self.passed.pop(tp.partition, None)  # found again from the new position
            if tp.partition in stored:
                self.applied[tp.partition] = stored[tp.partition]
                # Applied, so kept: by this process or an earlier one (never forgotten on a
                # revoke, unlike `applied`: a rebuild's builder asks, Runtime._run_rebuild).
                self.kept[tp.partition] = max(self.kept.get(tp.partition, 0), stored[tp.partition])
                consumer.seek(tp, stored[tp.partition])
                if tp.partition in self.mirror_stored:  # (applied elsewhere: a first catch-up's)
                    self.mirror_stored.discard(tp.partition)
                    self._uncommitted.setdefault(tp.partition, stored[tp.partition])
            else:
                self.applied.pop(tp.partition, None)
                await consumer.seek_to_beginning(tp)
            if tp.partition in said and tp.partition not in self.behind:
                self.behind[tp.partition] = said[tp.partition]
                self.metrics.topic_behind.labels(str(tp.partition)).set(1)
            if tp.partition in self.behind and tp in consumer.assignment():
                # Paused again before any fetch: a rebalance's new assignment is not, and a
                # topic refilled past the position was fetched and applied (attack35)
                consumer.pause(tp)
        self.publish({})  # readers waiting for a position the store already holds
        async with self.progress:
            self.progress.notify_all()

    def _revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._repositioned += 1
        for tp in revoked:
            self.applied.pop(tp.partition, None)
            self.passed.pop(tp.partition, None)
            self._positioned.discard(tp.partition)
            self.end_offsets.pop(tp.partition, None)
            self._uncommitted.pop(tp.partition, None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: StoredPositions, consumer: AIOKafkaConsumer) -> None:
        self._loop = loop
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._loop._settle()  # then nothing is pending here
        self._loop._revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        partitions = sorted(tp.partition for tp in assigned)
        try:
            await self._loop._seek_to_stored(self._consumer, assigned)
        except StoreUnavailable as exc:
            # The store down: these partitions stay unread (not `_positioned`), so no batch of
            # theirs is written before the loop reads their positions, once the store answers.
            # Raised, aiokafka logged it as an ERROR with a traceback, each rebalance.
            log.warning("assigned partitions; their positions are read once the store answers: %s",
                        exc, extra={"partitions": partitions})  # fmt: skip
            return
        log.info("assigned partitions", extra={"partitions": partitions})
