"""The Kafka edge: consume the product topic in batches and write each batch, with the offsets
it reached, in one store transaction. Offsets live in the store, not in Kafka: on assignment the
consumer seeks to them (the group's Kafka offsets are committed too, only so tools show lag).
The loop here decides what to do with each fetch; how a batch is written, and what its commit
tells, is consumer_writing.py's."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

from catalog_contract.consumer_stop import stop_consumer
from projector.consumer_ahead import Ahead
from projector.consumer_writing import BatchWriting
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.errors import GenerationMoved, PositionConflict, ProjectorError, StoreRefused
from projector.held_dead_letters import HeldDeadLetters
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.restatement_retry import OwedRestatements
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from projector.topic_behind import TopicBehind
from runtime_support.quiet_logs import Outage

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConsumerLoop(BatchWriting, TopicBehind):
    """Consumes the product topic batch by batch into one generation of the views."""

    def __init__(
        self,
        settings: ProjectorSettings,
        store: ViewStore,
        metrics: ProjectorMetrics,
        progress: asyncio.Condition | None = None,
        restater: RestatementWriter | None = None,
        dead_letters: DeadLetterWriter | HeldDeadLetters | None = None,
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
        self.keep_from: dict[int, int] | None = None  # keep only at or past (BatchKeeping)
        self.keep_past: Callable[[], dict[int, int]] | None = None
        self.dead_letters_from: dict[int, int] | None = None  # (BatchKeeping)
        self.moved = False  # stopped because another instance switched the generation
        self.kept: dict[int, int] = {}  # partition -> the offset below which records were kept
        # Partitions whose stored positions this loop mirrors to the group once assigned,
        # though it applied nothing there: a first catch-up's merged positions (Runtime).
        self.mirror_stored: set[int] = set()
        self.metrics = metrics
        self.applied: dict[int, int] = {}  # partition -> next offset the views expect
        self.passed: dict[int, int] = {}  # partition -> past `applied`, no record between
        self._positioned: set[int] = set()  # read since assigned (StoredPositions)
        self._repositioned = 0  # seeks to stored positions and revokes (consumer_progress)
        self.end_offsets: dict[int, int] = {}
        self.past_stable: dict[int, int] = {}  # records past the last stable offset (open txn)
        self.behind: dict[int, tuple[int, int]] = {}  # the topic behind the views (TopicBehind)
        self._behind_since: dict[int, float] = {}
        self._removed_said: dict[int, int] = {}
        self._behind_unkept: dict[int, float] = {}
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

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._subscribed()
        ahead: Ahead | None = None  # the next batch, already fetched and being planned
        await self._start(consumer, stop)
        self._consumer = consumer
        try:
            while not stop.is_set():
                if self.owed is not None:
                    self.owed.start_if_due()  # beside the batches: a round may wait for Kafka
                if ahead is None:
                    raw = await self._fetch(
                        consumer, self.settings.poll_timeout_ms, self._batch_records()
                    )
                    if raw:
                        ahead = self._start_plan(raw, dict(self.applied))
                    else:
                        await self._note_passed(consumer)
                        # Offsets a batch left unmirrored (too soon after the last mirror) go
                        # now: else the tools' lag stayed up while the topic was quiet.
                        await self._commit_for_tools(consumer, None)
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
                        self._not_written(exc)
                        if not isinstance(exc, PositionConflict):
                            await asyncio.sleep(1)
                        await self._seek_to_stored_once_it_answers(consumer, stop)
                        continue
                    self.metrics.batch_seconds.observe(time.perf_counter() - started)
                    await self._done(consumer, plan)
                self._update_lag(consumer)
                await self._watch_behind(consumer)
        finally:
            if self.owed is not None:
                await self.owed.stopped()
            if ahead is not None:
                await ahead.dropped()
            with contextlib.suppress(Exception):  # stopping: a last mirror, if Kafka answers soon
                await asyncio.wait_for(self._commit_for_tools(consumer, None, force=True), 5)
            if self._mirroring is not None:  # Kafka did not answer in time: stop waiting
                self._mirroring.cancel()
            self._consumer = None
            try:
                await stop_consumer(consumer)
            finally:
                self._store_thread.shutdown(wait=False)
                self._plan_thread.shutdown(wait=False)
