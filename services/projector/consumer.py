"""The Kafka edge: consume the product topic in batches and write each batch, with the offsets
it reached, in one store transaction. Offsets live in the store, not in Kafka: on assignment the
consumer seeks to them (the group's Kafka offsets are committed too, only so tools show lag)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from projector.batch import BatchPlan, ItemKey, plan_batch
from projector.consumer_ahead import Ahead, in_order
from projector.consumer_progress import ConsumerProgress
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.errors import GenerationMoved, PositionConflict, ProjectorError, StoreRefused
from projector.item_fold import Known
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.records import Incoming, Unreadable, read_record
from projector.restatement_retry import OwedRestatements
from projector.restatement_writer import RestatementWriter
from projector.restatements import restatements
from projector.restatements_owed import at_or_past
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from runtime_support.quiet_logs import Outage

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConsumerLoop(ConsumerProgress):
    """Consumes the product topic batch by batch into one generation of the views."""

    def __init__(
        self,
        settings: ProjectorSettings,
        store: ViewStore,
        metrics: ProjectorMetrics,
        progress: asyncio.Condition | None = None,
        restater: RestatementWriter | None = None,
        dead_letters: DeadLetterWriter | None = None,
        delivery: DeliveryStats | None = None,
        feed_from: dict[int, int] | None = None,
        waiters: PositionWaiters | None = None,
    ) -> None:
        self.settings = settings
        self.delivery = delivery  # only the live consumer counts postbacks
        self.restater = restater  # only the live consumer restates; a rebuild only reads
        self.dead_letters = dead_letters  # likewise (the live one kept them already)
        self.store = store
        self.feed_from = feed_from  # a rebuild: feed no change below these offsets (batch.py)
        # Keep and restate only records at or past `keep_from[partition]` (0 if absent): what
        # was not kept before. A live consumer after a switch starts from its predecessor's
        # `kept`; a rebuild's builder reads it per batch from `keep_past`, the active
        # generation's positions, which every instance's live consumer kept (Runtime).
        self.keep_from: dict[int, int] | None = None
        self.keep_past: ViewStore | None = None
        self.moved = False  # stopped because another instance switched the generation
        self.kept: dict[int, int] = {}  # partition -> the offset below which records were kept
        self.metrics = metrics
        self.applied: dict[int, int] = {}  # partition -> next offset the views expect
        # Partitions whose stored position was read since they were assigned: only a batch
        # planned on those positions is kept, restated or written (_planned_where_stored).
        self._positioned: set[int] = set()
        self.end_offsets: dict[int, int] = {}
        self.assigned: frozenset[int] = frozenset()  # the partitions this instance reads
        # Notified after each batch (change streams wait on it); readers waiting for a position
        # wait in `waiters`. Both are shared across generations so waiters survive a switch.
        self.progress = progress or asyncio.Condition()
        self.waiters = waiters
        self._consumer: AIOKafkaConsumer | None = None
        self._fetch_outage = Outage()  # logged once when fetches stop, once when they resume
        # The consumer's store work runs on a thread of its own, never on the default pool that
        # the read API (and every open change stream) uses: readers cannot starve the consumer.
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="projector-consumer-store")
        # The next batch is read and planned on another thread while one is written.
        self._plan_thread = ThreadPoolExecutor(1, thread_name_prefix="projector-consumer-plan")
        self._writing: asyncio.Future[None] | None = None
        self._uncommitted: dict[int, int] = {}  # applied, not yet mirrored to Kafka
        self._committed_at = -float("inf")
        self._mirroring: asyncio.Future[None] | None = None  # a mirror commit under way
        self._retrying: asyncio.Task[None] | None = None  # a round of owed restatements
        self.owed = (
            None
            if restater is None
            else OwedRestatements(  # failed ones, written again
                settings, store, metrics, restater, self._in_store_thread
            )
        )

    async def _in_store_thread(self, work: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_thread, functools.partial(work, *args))

    # --- consuming -----------------------------------------------------------------------

    def _plan(
        self,
        raw: Iterable[Any],
        applied: dict[int, int],
        refused: str | None = None,
        after: BatchPlan | None = None,
    ) -> BatchPlan:
        """Runs in a worker thread: read the records and what the store knows of their items.
        `refused`: the store refused these records, so they are dead letters for that reason.
        `after`: the batch before this one, maybe still being written: its items are known from
        its plan (what it read and what it makes of them), the others from the store, which
        that write does not change."""
        raw = list(raw)
        records = [read_record(m.partition, m.offset, m.key, m.value, m.headers) for m in raw]
        if self.delivery is not None:
            self.delivery.observe(zip(records, [m.headers for m in raw], strict=True))
        if refused is not None:
            records = [
                Unreadable(m.partition, m.offset, refused, m.key, m.value, tuple(m.headers or ()))
                for m in raw
            ]
        keys = {(r.catalog_id, r.item_id) for r in records if isinstance(r, Incoming)}
        if after is not None:
            keys -= after.before.keys()  # every item of `after` is in its `before`
        # one query per few hundred items, not one each
        known: dict[ItemKey, Known] = dict(self.store.load_items(keys))
        if after is not None:
            known.update(after.before)
            known.update(after.items)
        return plan_batch(records, applied, known.get, self.feed_from)

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

    async def _keep_and_restate(self, plan: BatchPlan) -> None:
        """Keep what the batch cannot apply, restate what compaction would lose: before the
        batch is written, so a crash in between restates again (the same event: a duplicate)
        rather than not at all."""
        unreadable = plan.unreadable
        owed = restatements(plan) if self.restater is not None else []
        if self.keep_past is not None:
            self.keep_from = await self._in_store_thread(
                self.keep_past.positions, self.settings.topic
            )
        if (keep_from := self.keep_from) is not None:
            unreadable = [u for u in unreadable if at_or_past(u, keep_from)]
            owed = [r for r in owed if at_or_past(plan.last_records[r.key], keep_from)]
        if self.dead_letters is not None:
            await self.dead_letters.write(unreadable)
        if self.owed is not None:
            await self.owed.write(plan, owed, keep_from)
        self._kept(plan, written=False)

    async def _apply(
        self, raw: Iterable[Any], applied: dict[int, int], refused: str | None = None
    ) -> BatchPlan:
        """Plan the batch, keep and restate, then write the batch and its offsets in one
        transaction."""
        plan = await self._in_store_thread(self._plan, raw, applied, refused)
        await self._keep_and_restate(plan)
        if plan.next_offsets:
            await self._in_store_thread(self.store.write, self.settings.topic, plan)
        return plan

    def _start_plan(
        self, raw: list[Any], applied: dict[int, int], after: BatchPlan | None = None
    ) -> Ahead:
        loop = asyncio.get_running_loop()
        work = functools.partial(self._plan, raw, applied, None, after)
        return Ahead(raw, loop.run_in_executor(self._plan_thread, work))

    async def _write_and_fetch_ahead(
        self, consumer: AIOKafkaConsumer, plan: BatchPlan
    ) -> Ahead | None:
        """Write the batch; meanwhile read and plan the records already fetched after it (the
        store thread's SQL and the planner's Python overlap), on top of its plan: dropped unless
        this write succeeds. Caught up (not a full batch), what was fetched during the write
        joins them, planned again: it no longer waits for the batch after (README: freshness)."""
        if not plan.next_offsets:
            return None
        writing = self._writing = asyncio.ensure_future(
            self._in_store_thread(self.store.write, self.settings.topic, plan)
        )
        ahead, most = None, self.settings.batch_max_records
        # Where the store stands once the write ends, taken now: a rebalance revoking as the
        # write ends pops `applied` (the listener waits for the write) before the re-plan.
        after = {**self.applied, **plan.next_offsets}
        try:
            raw = in_order(await consumer.getmany(timeout_ms=0, max_records=most))
            if raw:
                ahead = self._start_plan(raw, after, plan)
            await writing
            if ahead is not None and len(raw) < most:
                more = in_order(await consumer.getmany(timeout_ms=0, max_records=most - len(raw)))
                if more:
                    await ahead.dropped()
                    ahead = self._start_plan(raw + more, {**self.applied, **after}, plan)
        except BaseException:
            if ahead is not None:
                await ahead.dropped()
            raise
        finally:
            self._writing = None
        return ahead

    async def _settle(self) -> None:
        """Let a batch being written finish (a rebalance waits for it)."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writing)

    async def _apply_one_by_one(self, consumer: AIOKafkaConsumer, raw: list[Any]) -> None:
        """The store refused something in this batch: apply its records one at a time, and
        dead-letter the one it refuses instead of trying the same batch forever."""
        for message in raw:
            try:
                plan = await self._apply([message], dict(self.applied))
            except StoreRefused as exc:
                plan = await self._apply([message], dict(self.applied), refused=str(exc))
            await self._done(consumer, plan)

    def _kept(self, plan: BatchPlan, written: bool) -> None:
        """Move `kept` past the batch once, when nothing it owes Kafka can be lost: without
        debts, once its dead letters and restatements are written (a batch then refused as
        moved is not kept again by the follower); with debts, only once the batch that holds
        them is written (refused as moved, they would be in no store)."""
        if written == bool(plan.owe):
            self.kept.update(plan.next_offsets)

    async def _done(self, consumer: AIOKafkaConsumer, plan: BatchPlan) -> None:
        self._kept(plan, written=True)
        self.publish(plan.next_offsets)
        self._update_lag(consumer)  # before any wait: no reader sees a position past its end
        self._count(plan)
        async with self.progress:
            self.progress.notify_all()
        await self._commit_for_tools(consumer, plan)

    async def _seek_to_stored(
        self, consumer: AIOKafkaConsumer, assigned: Iterable[TopicPartition]
    ) -> None:
        stored = await self._in_store_thread(self.store.positions, self.settings.topic)
        owned = consumer.assignment()  # a rebalance during the read may have taken some
        for tp in assigned:
            if tp not in owned:
                continue
            self._positioned.add(tp.partition)
            if tp.partition in stored:
                self.applied[tp.partition] = stored[tp.partition]
                # Applied, so kept: by this process or an earlier one (never forgotten on a
                # revoke, unlike `applied`: a rebuild's builder asks, Runtime._run_rebuild).
                self.kept[tp.partition] = max(self.kept.get(tp.partition, 0), stored[tp.partition])
                consumer.seek(tp, stored[tp.partition])
            else:
                self.applied.pop(tp.partition, None)
                await consumer.seek_to_beginning(tp)
        self.publish({})  # readers waiting for a position the store already holds
        async with self.progress:
            self.progress.notify_all()

    async def run(self, stop: asyncio.Event) -> None:
        projector = self

        class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                await projector._settle()  # then nothing is pending here
                for tp in revoked:
                    projector.applied.pop(tp.partition, None)
                    projector._positioned.discard(tp.partition)
                    projector.end_offsets.pop(tp.partition, None)
                    projector._uncommitted.pop(tp.partition, None)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await projector._seek_to_stored(consumer, assigned)
                partitions = sorted(tp.partition for tp in assigned)
                log.info("assigned partitions", extra={"partitions": partitions})

        consumer = AIOKafkaConsumer(
            **self.settings.client_options(),
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.settings.session_timeout_ms // 4),
            client_id="catalog-stream-projector",
        )
        consumer.subscribe([self.settings.topic], listener=Rebalance())
        ahead: Ahead | None = None  # the next batch, already fetched and being planned
        await self._start(consumer, stop)
        self._consumer = consumer
        try:
            while not stop.is_set():
                self._retry_owed()
                if ahead is None:
                    raw = in_order(
                        await consumer.getmany(
                            timeout_ms=self.settings.poll_timeout_ms,
                            max_records=self.settings.batch_max_records,
                        )
                    )
                    if raw:
                        ahead = self._start_plan(raw, dict(self.applied))
                if ahead is not None:
                    messages, planning, ahead = ahead.messages, ahead.plan, None
                    started = time.perf_counter()
                    try:
                        try:
                            plan = await planning
                            if not self._planned_where_stored(plan):
                                await self._seek_to_stored(consumer, consumer.assignment())
                                continue
                            await self._keep_and_restate(plan)
                            ahead = await self._write_and_fetch_ahead(consumer, plan)
                        except StoreRefused as exc:
                            log.warning("store refused a batch, applying it record by record: %s",
                                        exc)  # fmt: skip
                            await self._apply_one_by_one(consumer, messages)
                            # The batch fetched after it was dropped: read it again.
                            await self._seek_to_stored(consumer, consumer.assignment())
                            continue
                    except GenerationMoved as exc:
                        log.info("views switched by another instance: %s", exc)
                        self.moved = True  # the runtime follows; this batch goes there
                        break
                    except ProjectorError as exc:
                        # Nothing of the batch was written: go back to what the store holds.
                        log.warning("batch not written, re-reading positions: %s", exc)
                        if not isinstance(exc, PositionConflict):
                            await asyncio.sleep(1)
                        await self._seek_to_stored(consumer, consumer.assignment())
                        continue
                    self.metrics.batch_seconds.observe(time.perf_counter() - started)
                    await self._done(consumer, plan)
                self._update_lag(consumer)
        finally:
            await self._retry_stopped()
            if ahead is not None:
                await ahead.dropped()
            with contextlib.suppress(Exception):  # stopping: a last mirror, if Kafka answers soon
                await asyncio.wait_for(self._commit_for_tools(consumer, None, force=True), 5)
            if self._mirroring is not None:  # Kafka did not answer in time: stop waiting
                self._mirroring.cancel()
            self._consumer = None
            await consumer.stop()
            self._store_thread.shutdown(wait=False)
            self._plan_thread.shutdown(wait=False)

    def _retry_owed(self) -> None:
        """Start a round of owed restatements if one is due, beside the batches: a round waits
        for Kafka (up to `restate_timeout_s` when it does not answer), which held consumption
        back when awaited here (restatement_retry.py says why running beside them is safe)."""
        if self.owed is None:
            return
        if (retrying := self._retrying) is not None:
            if not retrying.done():
                return
            self._retrying = None
            retrying.result()  # a round's unexpected failure ends the consumer, as inline
        if self.owed.due():
            self._retrying = asyncio.create_task(self.owed.retry_due())

    async def _retry_stopped(self) -> None:
        """Stopping: a round under way ends now. Its debts stay owed unless settled already
        (settled only once Kafka acknowledged), and its store work ends before the consumer's
        stop returns (a switch then copies the debts the old generation still holds)."""
        if self._retrying is None:
            return
        self._retrying.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._retrying
        self._retrying = None
        await self._in_store_thread(lambda: None)  # a settle the round started has ended

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
