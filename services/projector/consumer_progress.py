"""Where one consumer's views stand against the topic: the offsets applied, the partitions'
ends, the lag readers and /readyz ask about, whether fetches still get answers, and the mirror of
the applied offsets to the group's Kafka offsets (for lag tools only: the store holds the real
ones), and the events counted per verdict. The consumer loop (consumer.py) moves these; the read
API only reads them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from catalog_contract.lag import total_lag
from projector.batch import BatchPlan
from projector.dead_letter_writer import DeadLetterWriter
from projector.held_dead_letters import HeldDeadLetters
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.settings import ProjectorSettings
from runtime_support.quiet_logs import Outage

log = logging.getLogger(__name__)
COMMIT_EVERY_S = 1.0
FETCH_STALE_MS = 20_000  # twice the brokers' session timeout: longer than a normal failover


class ConsumerProgress:
    """Mixed into ConsumerLoop, which sets these in its __init__."""

    settings: ProjectorSettings
    metrics: ProjectorMetrics
    applied: dict[int, int]  # partition -> next offset the views expect
    # partition -> an offset past `applied` below which the partition holds no other record
    # (a transaction marker, a record compaction removed, at its end): see `_note_passed`
    passed: dict[int, int]
    _positioned: set[int]  # read since assigned (StoredPositions)
    _repositioned: int  # how many times positions were sought or revoked (StoredPositions)
    end_offsets: dict[int, int]
    past_stable: dict[int, int]  # partition -> records past its last stable offset
    assigned: frozenset[int]  # the partitions this instance reads
    waiters: PositionWaiters | None  # readers waiting for positions (the live consumer's)
    _fetch_outage: Outage  # logged once when fetches stop, once when they resume
    _uncommitted: dict[int, int]  # applied, not yet mirrored to Kafka
    _committed_at: float
    _mirroring: asyncio.Future[None] | None  # a mirror commit under way
    # Without one, unreadable records are logged here.
    dead_letters: DeadLetterWriter | HeldDeadLetters | None
    _consumer: AIOKafkaConsumer | None  # the running consumer (ConsumerLoop.run)
    # Called once, as the end of every assigned partition first becomes known (Runtime: /readyz
    # answers from a merged first catch-up until then).
    when_ends_known: Callable[[], None] | None = None

    def lag(self) -> int:
        return total_lag(self.end_offsets, self.reached())

    def reached(self) -> dict[int, int]:
        """Per partition, the offset below which the views hold every record there is."""
        if not self.passed:
            return self.applied
        past = {p: o for p, o in self.passed.items() if o > self.applied.get(p, 0)}
        return {**self.applied, **past}

    async def _note_passed(self, consumer: AIOKafkaConsumer) -> None:
        """Called when the loop is idle (every record fetched so far is applied): where Kafka's
        position is past `applied`, the offsets in between hold no record (a transactional
        producer's marker; a tail record compaction removed, such as a tombstone past
        delete.retention.ms in a quiet partition). The partition's end (high watermark) is then
        past the last record, and its lag would never reach 0: a rebuild's builder would wait
        for it for ever. Only the lag counts these offsets; `applied` and the store keep the
        records' own positions."""
        for tp in consumer.assignment():
            end = self.end_offsets.get(tp.partition)
            if end is None or self.applied.get(tp.partition, 0) >= end:
                continue  # (the usual case: no gap, nothing asked)
            if tp.partition not in self._positioned:
                # Kafka's position there came from the group's offsets (a mirror), not from
                # the store, which has not said where it stands (test_projector_lag_unpositioned)
                continue
            repositioned = self._repositioned
            with contextlib.suppress(KafkaError, asyncio.TimeoutError):
                # Known at once after a fetch; a position still being reset is not waited for.
                position = await asyncio.wait_for(consumer.position(tp), 0.05)
                if repositioned != self._repositioned:
                    return  # a rebalance or a seek meanwhile: that position may not be ours
                if position > self.applied.get(tp.partition, 0):
                    self.passed[tp.partition] = position

    def ends_known(self) -> bool:
        """Whether the end of every assigned partition is known. Ends become known partition by
        partition, as fetch answers arrive: one known end says nothing of the others."""
        return bool(self.assigned) and self.assigned <= self.end_offsets.keys()

    def caught_up(self) -> bool:
        """Every assigned partition's end is known and reached."""
        return self.ends_known() and self.lag() == 0

    def ready(self, max_lag: int) -> bool:
        """Every assigned partition's end is known, and the views are at most `max_lag` behind
        what can be read: records past the last stable offset (an open transaction's, and all
        after it) no instance can read until the transaction ends. Counted, they took every
        instance out of readiness at once, for up to the transaction's timeout: an outage of
        the read API over views as fresh as any could be (the lag still counts them)."""
        return self.ends_known() and self.lag() - self.records_past_stable() <= max_lag

    def has_applied(self, partition: int, offset: int) -> bool:
        return self.applied.get(partition, 0) > offset

    def publish(self, next_offsets: dict[int, int]) -> None:
        """The views hold these positions now (committed): answer the readers waiting for
        them, before anything else is done for the batch."""
        self.applied.update(next_offsets)
        if self.waiters is not None:
            self.waiters.reached(self.applied)

    async def _commit_for_tools(
        self, consumer: AIOKafkaConsumer, plan: BatchPlan | None, force: bool = False
    ) -> None:
        """Mirror the applied offsets to the group's Kafka offsets, at most every
        COMMIT_EVERY_S (a round trip to the broker per batch slowed catch-up) and when stopping.
        Not forced, the commit runs beside the consumer loop, one at a time: awaited, its round
        trip (up to a second under load) held up the next batch and every reader waiting for
        it once a second (README: freshness). Forced (stopping), it is awaited."""
        if plan is not None:
            self._uncommitted.update(plan.next_offsets)
        if force:
            await self._mirror_settled()
        elif self._mirroring is not None or time.monotonic() - self._committed_at < COMMIT_EVERY_S:
            return  # offsets left now go with the next one
        if not self._uncommitted:  # every record was already applied: nothing moved
            return
        # A batch written while its partitions were revoked still reports them: Kafka refuses a
        # commit naming a partition the group no longer gives this member (IllegalStateError).
        owned = {tp.partition for tp in consumer.assignment()}
        offsets = {
            TopicPartition(self.settings.topic, p): o
            for p, o in self._uncommitted.items()
            if p in owned
        }
        self._uncommitted, self._committed_at = {}, time.monotonic()
        if not offsets:
            return
        if force:
            await self._mirror(consumer, offsets)
        else:
            self._mirroring = asyncio.ensure_future(self._mirror(consumer, offsets))
            self._mirroring.add_done_callback(self._mirror_ended)

    async def _mirror(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # informational only: the store holds the real offsets
            log.info("could not mirror offsets to kafka: %s", exc)

    def _mirror_ended(self, task: asyncio.Future[None]) -> None:
        if self._mirroring is task:
            self._mirroring = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("mirroring offsets to kafka failed: %r", exc)

    async def _mirror_settled(self) -> None:
        """Let a mirror commit under way end (before a forced one, or stopping the consumer)."""
        if self._mirroring is not None:
            await asyncio.wait([self._mirroring])  # its outcome is the task's own (_mirror_ended)

    def _watch_fetches(self, consumer: AIOKafkaConsumer) -> None:
        """A partition is stale when no fetch answer came for it for a while (a broker down
        longer than a failover). aiokafka's own errors are summarised; this is the state."""
        now_ms = time.time() * 1000
        stale = []
        for tp in consumer.assignment():
            answered = consumer.last_poll_timestamp(tp)
            if answered is not None and now_ms - answered > FETCH_STALE_MS:
                stale.append(tp.partition)
        change = self._fetch_outage.observe(bool(stale), time.monotonic())
        if change is not None and change.lost:
            log.error("kafka not answering fetches", extra={"partitions": stale})
        elif change is not None:
            log.warning("kafka answering fetches again", extra={"failing_s": change.lasted_s})

    def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        self._watch_fetches(consumer)
        self.assigned = frozenset(tp.partition for tp in consumer.assignment())
        if self.waiters is not None and (
            every := consumer.partitions_for_topic(self.settings.topic)
        ):
            self.waiters.partitions = len(every)  # all of the topic's, not only those assigned
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None:
                self.end_offsets[tp.partition] = end
                self.metrics.lag.labels(str(tp.partition)).set(
                    total_lag({tp.partition: end}, self.reached())
                )
                stable = consumer.last_stable_offset(tp)  # (None or -1: not said)
                if stable is not None and stable >= 0:
                    # One figure for /readyz and the gauge: never below 0 (a stable offset
                    # past the end, which a broker should never say, holds nothing back)
                    past = self.past_stable[tp.partition] = max(0, end - stable)
                    self.metrics.past_stable.labels(str(tp.partition)).set(past)
        if self.when_ends_known is not None and self.ends_known():
            said, self.when_ends_known = self.when_ends_known, None
            said()

    def records_past_stable(self) -> int:
        """Records past the last stable offsets of the partitions this instance reads: held by
        open transactions (read_committed reads none of them until they end)."""
        return sum(n for p, n in self.past_stable.items() if p in self.assigned)

    async def count_partitions(self) -> int | None:
        """The topic's partition count, asked of Kafka now (None: not running). The consumer's
        metadata is otherwise refreshed every `metadata_max_age_ms` (30 s); refreshed, it also
        makes the group assign partitions added meanwhile (a read waiting on one)."""
        consumer = self._consumer
        if consumer is None:
            return None
        await consumer._client.force_metadata_update()
        every = consumer.partitions_for_topic(self.settings.topic)
        return len(every) if every else None

    def _count(self, plan: BatchPlan) -> None:
        for verdict, count in plan.verdicts.items():
            if count:
                self.metrics.events.labels(verdict.value).inc(count)
        if plan.unreadable:
            self.metrics.events.labels("unreadable").inc(len(plan.unreadable))
            for bad in plan.unreadable if self.dead_letters is None else ():
                log.error(
                    "unreadable record skipped",
                    extra={"partition": bad.partition, "offset": bad.offset, "reason": bad.reason},
                )
