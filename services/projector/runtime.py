"""The active generation of the views, its consumer, and rebuilds without downtime.

A rebuild consumes the whole topic into a new generation under a consumer group of its own
while the active generation keeps serving. Once it has caught up, the live consumer stops after
its batch, the pointer moves to the new generation, and a live consumer resumes there from the
new generation's own offsets. Readers hold the old or the new generation, never a half-built one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from catalog_contract.kafka_auth import check_credentials
from projector.consumer import ConsumerLoop
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.delivery_history import fill_from_topic
from projector.errors import ProjectorError
from projector.generation_follower import GenerationFollower
from projector.generations import Generations
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from projector.streams import StreamSlots
from projector.topic_writer import TopicWriter

log = logging.getLogger(__name__)


@dataclass
class RebuildStatus:
    state: str = "idle"  # idle | running | done | failed
    generation: str = ""
    applied: int = 0
    target: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None


class Runtime:
    def __init__(
        self,
        settings: ProjectorSettings,
        generations: Generations,
        metrics: ProjectorMetrics,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.generations = generations
        self.metrics = metrics
        self.progress = asyncio.Condition()
        self.waiters = PositionWaiters()  # read-your-writes, answered by the live consumer
        self.store: ViewStore = generations.open_active()
        self.writer = TopicWriter(settings)
        self.restater = (
            RestatementWriter(settings, metrics, self.writer) if settings.restate else None
        )
        self.dead_letters = DeadLetterWriter(settings, metrics, self.writer)
        # Why the live consumer stopped by itself, if it did: the instance is then not ready,
        # not healthy, and `on_failure` ends the process so that a supervisor restarts it.
        self.failure: str | None = None
        self.on_failure = on_failure
        self.delivery = DeliveryStats(settings.delivery_max_catalogs)
        self.projector = self._live_projector(self.store)
        self.rebuild_status = RebuildStatus(generation=self.store.name)
        self._live: asyncio.Task[None] | None = None
        self._stop_live = asyncio.Event()
        self._rebuild: asyncio.Task[None] | None = None
        self._history: asyncio.Task[None] | None = None  # delivery windows from the topic
        self.streams = StreamSlots(settings.stream_max)
        self._pruner: asyncio.Task[None] | None = None
        self.follower = GenerationFollower(self)  # several instances on one store
        # A switch or a follow is under way: set before the live consumer stops, so that
        # neither starts while the other stops it (no two live consumers, no switch from views
        # this instance no longer serves).
        self.moving = False
        self.building: ViewStore | None = None

    def _live_projector(
        self, store: ViewStore, keep_from: dict[int, int] | None = None
    ) -> ConsumerLoop:
        loop = ConsumerLoop(
            self.settings,
            store,
            self.metrics,
            self.progress,
            self.restater,
            self.dead_letters,
            self.delivery,
            waiters=self.waiters,
        )
        loop.keep_from = keep_from
        return loop

    async def start(self, run_consumer: bool = True) -> None:
        if abandoned := await asyncio.to_thread(self.generations.discard_abandoned):
            log.warning("deleted generations a stopped process left", extra={"names": abandoned})
        await asyncio.to_thread(self.store.create)
        await self._start_delivery(from_topic=run_consumer)
        if run_consumer:
            await check_credentials(self.settings)  # refused: a clear start-up error, no retries
            self._start_live()
        self._pruner = asyncio.create_task(self._prune_feed())
        if self.generations.shared:
            await self.follower.heartbeat()
            self.follower.start()

    async def _prune_feed(self) -> None:
        """Keep the change feed to its newest `changes_retain` changes (README: Read API)."""
        while True:
            await asyncio.sleep(self.settings.changes_prune_interval_s)
            try:
                pruned = await asyncio.to_thread(
                    self.store.prune_changes, self.settings.changes_retain
                )
            except ProjectorError as exc:
                log.warning("could not prune the change feed: %s", exc)
                continue
            if pruned:
                log.info("change feed pruned", extra={"changes": pruned})

    async def _start_delivery(self, from_topic: bool) -> None:
        """Delivery statistics: the store's catalogs start at zero (so a silent one shows), and
        the last day below the stored positions refills the windows from the topic."""
        known = await asyncio.to_thread(self.store.catalogs)
        self.delivery.known(row["catalog_id"] for row in known)
        stored = await asyncio.to_thread(self.store.positions, self.settings.topic)
        if from_topic and any(stored.values()):  # else the live consumer reads it all anyway
            self._history = asyncio.create_task(
                fill_from_topic(self.settings, self.settings.topic, self.delivery, stored)
            )

    def _start_live(self) -> None:
        self._stop_live = asyncio.Event()
        self._live = asyncio.create_task(self.projector.run(self._stop_live))
        self._live.add_done_callback(self._live_ended)

    def _live_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        if task.exception() is None:
            if self.projector.moved:
                self.follower.moved.set()
            return
        self.failure = f"consumer stopped: {task.exception()!r}"
        log.critical("the live consumer died; exiting", exc_info=task.exception())
        if self.on_failure is not None:
            self.on_failure()

    async def stop_live_consumer(self) -> None:
        self._stop_live.set()
        if self._live is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._live, 60)  # a failure was reported when it ended
            self._live = None

    async def stop(self) -> None:
        await self.follower.stop()
        if self._history is not None:
            self._history.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._history
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        if self._rebuild is not None:
            self._rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._rebuild
        await self.stop_live_consumer()
        await self.writer.stop()
        await self.follower.discard_retired()
        self.store.close()
        if self.generations.shared:  # uses nothing now: a switch elsewhere need not wait
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.generations.heartbeat, [])

    def start_rebuild(self) -> bool:
        """Start a rebuild in the background; False if one is running already."""
        if self._rebuild is not None and not self._rebuild.done():
            return False
        self._rebuild = asyncio.create_task(self._run_rebuild())
        return True

    async def _run_rebuild(self) -> None:
        status = self.rebuild_status = RebuildStatus(state="running", started_at=time.time())
        fresh = self.generations.open_new()
        status.generation = fresh.name
        builder_settings = self.settings.model_copy(
            update={"group_id": f"{self.settings.group_id}-rebuild-{time.time_ns()}"}
        )
        # Every change below the active generation's positions is in its feed, which the switch
        # keeps (continue_feed_of): the builder need not write them only to delete them there.
        announced = await asyncio.to_thread(self.store.positions, self.settings.topic)
        builder = ConsumerLoop(
            builder_settings,
            fresh,
            ProjectorMetrics(),  # its counts stay apart
            restater=self.restater,
            dead_letters=self.dead_letters,
            feed_from=announced,
        )
        # Keep and restate only what no live consumer kept: records at or past the active
        # generation's positions, on every instance's partitions (read per batch): the builder
        # reads on past where they stop at the switch, and only it applies those records.
        builder.keep_past = self.store
        self.building = fresh
        base = self.store  # what it is built against (keep_past, feed_from)
        stop_builder = asyncio.Event()
        try:
            await self.follower.heartbeat()  # in use before it exists: not taken as abandoned
            await asyncio.to_thread(fresh.create, False)  # the indexes after the load
            task = asyncio.create_task(builder.run(stop_builder))
            while not builder.caught_up():
                if self.store is not base:  # followed another instance's switch meanwhile
                    moved_to = self.store.name
                    raise ProjectorError(f"another instance switched the views to {moved_to}")
                if task.done():
                    task.result()  # raises what stopped it
                self._report(builder)
                await asyncio.sleep(0.2)
            await self._switch_to(base, fresh, builder, stop_builder, task)
        except Exception as exc:
            log.exception("rebuild failed; the active generation keeps serving")
            stop_builder.set()
            status.state, status.error = "failed", str(exc)
            await asyncio.to_thread(self.generations.discard, fresh)
            raise
        finally:
            self.building = None

    def _report(self, builder: ConsumerLoop) -> None:
        status = self.rebuild_status
        status.applied = sum(builder.applied.values())
        status.target = sum(builder.end_offsets.values())
        self.metrics.rebuild_applied.set(status.applied)
        self.metrics.rebuild_target.set(status.target)

    async def _switch_to(
        self,
        base: ViewStore,
        fresh: ViewStore,
        builder: ConsumerLoop,
        stop_builder: asyncio.Event,
        task: asyncio.Task[None],
    ) -> None:
        if self.moving or self.store is not base:  # following another instance's switch
            raise ProjectorError("another instance switched the views")
        self.moving = True  # before the live consumer stops: no follow starts meanwhile
        try:
            await self.stop_live_consumer()
            kept = dict(self.projector.kept)
            await self._move_pointer(base, fresh, builder, stop_builder, task, kept)
        finally:
            self.moving = False
        self.rebuild_status.state, self.rebuild_status.finished_at = "done", time.time()
        log.info("views rebuilt", extra={"generation": self.rebuild_status.generation})
        await self.follower.retire(base, drop=True)

    async def _move_pointer(
        self,
        old: ViewStore,
        fresh: ViewStore,
        builder: ConsumerLoop,
        stop_builder: asyncio.Event,
        task: asyncio.Task[None],
        kept: dict[int, int],
    ) -> None:
        try:
            # Held from reading the old generation's positions to moving the pointer: no
            # instance writes a batch into the old generation in between (generations_postgres).
            holding = self.generations.holding_pointer()  # entered off the loop: it may wait
            active = await asyncio.to_thread(holding.__enter__)
            try:
                if active != old.name:
                    raise ProjectorError(f"another instance switched the views to {active}")
                announced = await asyncio.to_thread(old.positions, self.settings.topic)
                await self._until_reached(builder, announced, task)
                stop_builder.set()
                await task
                self._report(builder)
                await asyncio.to_thread(fresh.create)  # the read API's indexes, one pass each
                # The feed's sequence goes on across the switch: the new generation keeps the
                # old feed (same numbers) and adds only changes of records the old one had not
                # applied, so a client following `after=` or the stream neither misses nor
                # repeats a change.
                await asyncio.to_thread(fresh.continue_feed_of, old, announced)
                await asyncio.to_thread(fresh.continue_owed_of, old)  # failed restatements
                await asyncio.to_thread(self.generations.activate, fresh)
            finally:
                await asyncio.to_thread(holding.__exit__, None, None, None)
        except Exception:
            # No switch: the active generation keeps serving, and keeps being updated (else its
            # views freeze, and every `min_position` read waits into a 504 from then on).
            self.projector = self._live_projector(old, kept)
            self._start_live()
            raise
        # The switch itself: readers that took `self.store` before this line finish on the old,
        # complete generation; later ones get the new, complete one.
        self.use(fresh, kept)

    @staticmethod
    async def _until_reached(
        builder: ConsumerLoop,
        positions: dict[int, int],
        task: asyncio.Task[None],
        timeout_s: float = 60,
    ) -> None:
        """Let the builder reach where the live consumer stopped: the records in between are in
        Kafka already. Then the new live consumer re-applies nothing the old feed announced."""
        deadline = time.monotonic() + timeout_s
        while any(builder.applied.get(p, 0) < o for p, o in positions.items()):
            if task.done() or time.monotonic() > deadline:
                log.warning("rebuild switches before reaching the live consumer's positions")
                return
            await asyncio.sleep(0.05)

    def use(self, store: ViewStore, kept: dict[int, int]) -> None:
        self.store = store
        self.projector = self._live_projector(store, kept)
        self._start_live()
