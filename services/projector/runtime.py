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
from projector.generations import Generations
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from projector.streams import StreamSlots
from projector.topic_writer import TopicWriter

log = logging.getLogger(__name__)
HEARTBEAT_S = 1.0  # how often an instance says what it uses and checks the pointer
FOLLOW_WAIT_S = 30.0  # how long a switch waits for the other instances to leave the old views


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
        self._retired: list[ViewStore] = []  # replaced generations, deleted after a grace time
        self.streams = StreamSlots(settings.stream_max)
        self._pruner: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None  # follows the pointer (PostgreSQL)
        self._followed: asyncio.Task[None] | None = None  # closes what it followed from
        self._moved = asyncio.Event()  # the live consumer saw another instance's switch
        self._switching = False
        self._building: ViewStore | None = None

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
            await self._heartbeat()
            self._watcher = asyncio.create_task(self._watch())

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
                self._moved.set()
            return
        self.failure = f"consumer stopped: {task.exception()!r}"
        log.critical("the live consumer died; exiting", exc_info=task.exception())
        if self.on_failure is not None:
            self.on_failure()

    async def _stop_live_consumer(self) -> None:
        self._stop_live.set()
        if self._live is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._live, 60)  # a failure was reported when it ended
            self._live = None

    async def stop(self) -> None:
        for watching in (self._watcher, self._followed):
            if watching is not None:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watching
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
        await self._stop_live_consumer()
        await self.writer.stop()
        await self._discard_retired()
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
        self._building = fresh
        base = self.store  # what it is built against (keep_past, feed_from)
        stop_builder = asyncio.Event()
        try:
            await self._heartbeat()  # in use before it exists: no start takes it as abandoned
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
            await self._switch_to(fresh, builder, stop_builder, task)
        except Exception as exc:
            log.exception("rebuild failed; the active generation keeps serving")
            stop_builder.set()
            status.state, status.error = "failed", str(exc)
            await asyncio.to_thread(self.generations.discard, fresh)
            raise
        finally:
            self._building = None

    def _report(self, builder: ConsumerLoop) -> None:
        status = self.rebuild_status
        status.applied = sum(builder.applied.values())
        status.target = sum(builder.end_offsets.values())
        self.metrics.rebuild_applied.set(status.applied)
        self.metrics.rebuild_target.set(status.target)

    async def _switch_to(
        self,
        fresh: ViewStore,
        builder: ConsumerLoop,
        stop_builder: asyncio.Event,
        task: asyncio.Task[None],
    ) -> None:
        await self._stop_live_consumer()
        old, kept = self.store, dict(self.projector.kept)
        self._switching = True
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
            self._switching = False
            self.projector = self._live_projector(old, kept)
            self._start_live()
            raise
        # The switch itself: readers that took `self.store` before this line finish on the old,
        # complete generation; later ones get the new, complete one.
        self._use(fresh, kept)
        self._switching = False
        self.rebuild_status.state, self.rebuild_status.finished_at = "done", time.time()
        log.info("views rebuilt", extra={"generation": self.rebuild_status.generation})
        await self._retire(old, drop=True)

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

    def _use(self, store: ViewStore, kept: dict[int, int]) -> None:
        self.store = store
        self.projector = self._live_projector(store, kept)
        self._start_live()

    async def _retire(self, old: ViewStore, drop: bool) -> None:
        """Readers holding the old generation finish, then it is closed; dropped by the instance
        that switched, once no other instance uses it (else at a later start)."""
        self._retired.append(old)
        await asyncio.sleep(1)
        await self._discard_retired(drop, wait_s=FOLLOW_WAIT_S)

    async def _discard_retired(self, drop: bool = True, wait_s: float = 0) -> None:
        while self._retired:
            old = self._retired[-1]
            deadline = time.monotonic() + wait_s
            in_use = drop and await asyncio.to_thread(self.generations.in_use_elsewhere, old.name)
            while in_use and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                in_use = await asyncio.to_thread(self.generations.in_use_elsewhere, old.name)
            if in_use:
                log.warning("a retired generation is still in use elsewhere; a later start "
                            "deletes it", extra={"generation": old.name})  # fmt: skip
            if drop and not in_use:
                await asyncio.to_thread(self.generations.discard, old)
            else:
                old.close()
            self._retired.remove(old)

    # --- instances sharing the generations (PostgreSQL) ------------------------------------

    def _in_use(self) -> list[str]:
        building = [self._building.name] if self._building is not None else []
        return [self.store.name, *(r.name for r in self._retired), *building]

    async def _heartbeat(self) -> str | None:
        return await asyncio.to_thread(self.generations.heartbeat, self._in_use())

    async def _watch(self) -> None:
        """Say which generations this instance uses, and follow the pointer when another
        instance's rebuild moves it (at once if the live consumer saw the move in a batch)."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._moved.wait(), HEARTBEAT_S)
            self._moved.clear()
            try:
                active = await self._heartbeat()
                if active is not None and active != self.store.name and not self._switching:
                    await self._follow()
            except Exception as exc:  # the watch goes on: the next second retries
                log.warning("could not follow the active generation: %s", exc)

    async def _follow(self) -> None:
        """Another instance switched the views: serve and update the new generation, from its
        positions; what this instance kept before is not kept again."""
        await self._stop_live_consumer()
        old, kept = self.store, dict(self.projector.kept)
        fresh = await asyncio.to_thread(self.generations.open_active)
        await asyncio.to_thread(fresh.create)
        self._use(fresh, kept)
        log.info("views switched by another instance", extra={"generation": fresh.name})
        if self.rebuild_status.state != "running":  # (a rebuild here fails at its switch)
            self.rebuild_status = RebuildStatus(generation=fresh.name)
        self._followed = asyncio.create_task(self._retire(old, drop=False))
