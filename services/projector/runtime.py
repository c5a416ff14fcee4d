"""The active generation of the views and its live consumer; rebuilds (rebuilding.py) and
the other instances sharing the store (generation_follower.py) replace it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka.errors import KafkaError

from catalog_contract.kafka_auth import check_credentials
from projector.consumer import ConsumerLoop
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.delivery_history import fill_from_topic
from projector.errors import ProjectorError
from projector.first_load import load_first, looks_closed, may_load_in_parts
from projector.generation_follower import GenerationFollower
from projector.generations import Generations
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.rebuilding import Rebuild, RebuildStatus
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from projector.streams import StreamSlots
from projector.topic_writer import TopicWriter

log = logging.getLogger(__name__)


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
        # A first catch-up in parts (first_load.py), then the live consumer; its progress while
        # it loads, then merged (readiness); its look's closing (Runtime.stop waits for it).
        self._first: asyncio.Task[None] | None = None
        self.first_load: RebuildStatus | None = None
        self.first_loaded: RebuildStatus | None = None
        self.look_closings: set[asyncio.Task[None]] = set()
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
        if self.generations.shared:
            await self._say_in_use()
        if abandoned := await asyncio.to_thread(self.generations.discard_abandoned):
            log.warning("deleted generations a stopped process left", extra={"names": abandoned})
        await asyncio.to_thread(self.store.create)
        await self._start_delivery(from_topic=run_consumer)
        if run_consumer:
            await check_credentials(self.settings)  # refused: a clear start-up error, no retries
            if may_load_in_parts(self):
                self._first = asyncio.create_task(self._first_load_then_live())
            else:
                self._start_live()
        self._pruner = asyncio.create_task(self._prune_feed())
        if self.generations.shared:
            await self.follower.heartbeat()
            self.follower.start()

    async def _say_in_use(self) -> None:
        """Say which generation this instance uses before anything else: until then another
        instance's switch takes it as unused and drops it. If the pointer moved before this
        instance said so, open the active generation instead."""
        while (active := await self.follower.heartbeat()) not in (None, self.store.name):
            log.info("views switched by another instance", extra={"generation": active})
            self.store.close()
            self.store = await asyncio.to_thread(self.generations.open_active)
            self.projector = self._live_projector(self.store)
            self.rebuild_status = RebuildStatus(generation=self.store.name)

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

    async def _start_delivery(self, from_topic: bool) -> dict[int, int]:
        """Delivery statistics: the store's catalogs start at zero (so a silent one shows), and
        the last day below the stored positions refills the windows from the topic. Returns
        those positions."""
        known = await asyncio.to_thread(self.store.catalogs)
        self.delivery.known(row["catalog_id"] for row in known)
        stored = await asyncio.to_thread(self.store.positions, self.settings.topic)
        if from_topic and any(stored.values()):  # else the live consumer reads it all anyway
            self._history = asyncio.create_task(
                fill_from_topic(self.settings, self.settings.topic, self.delivery, stored)
            )
        return stored

    async def _first_load_then_live(self) -> None:
        """The first catch-up in parts if the store and the topic ask for it, then the live
        consumer (from the merged offsets, or from wherever the store is if it was not merged:
        it then catches up alone, as before). Cancelled (a stop), no live consumer starts."""
        try:
            if await load_first(self):
                # The merged catalogs and positions; the group's offsets (lag tools) mirror the
                # merged positions once, as a batch's are: on a quiet topic the live consumer
                # applies no batch to mirror. The parts' delivery windows were added at the
                # merge: the topic is not read a second time to fill them.
                merged = await self._start_delivery(from_topic=False)
                self.projector.mirror_stored = set(merged)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("no first catch-up in parts; the live consumer catches up alone: %r", exc)
        except Exception:
            log.exception("the first catch-up in parts failed; the live consumer catches up alone")
        finally:
            self.first_load = None  # (set by load_first) from here on no rebuild is refused
        self._start_live()

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
        self.fail("consumer stopped", "the live consumer died; exiting", task.exception())

    def fail(self, reason: str, message: str, exc: BaseException | None) -> None:
        """Something this instance needs stopped by itself: not healthy, not ready, and the
        process ends (`on_failure`) for a supervisor to restart it."""
        self.failure = f"{reason}: {exc!r}"
        log.critical(message, exc_info=exc)
        if self.on_failure is not None:
            self.on_failure()

    async def stop_live_consumer(self) -> None:
        self._stop_live.set()
        if self._first is not None:  # a first catch-up not yet done: it starts no consumer
            self._first.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._first
            self._first = None
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
        await looks_closed(self.look_closings)
        await self.writer.stop()
        await self.follower.discard_retired()
        self.store.close()
        if self.generations.shared:  # uses nothing now: a switch elsewhere need not wait
            with contextlib.suppress(Exception):
                await self.follower.heartbeat(using=[])

    def start_rebuild(self) -> bool:
        """Start a rebuild in the background; False if one is running already."""
        if self._rebuild is not None and not self._rebuild.done():
            return False
        if self.first_load is not None:
            return False  # its merge goes into the active generation: rebuild after it
        self._rebuild = Rebuild(self).start()
        return True

    def rebuild_begun(self) -> bool:
        """Whether a rebuild was started since this process began (it may have switched the
        views already): a first catch-up in parts then does not load (first_load)."""
        return self._rebuild is not None

    def rebuild_refusal(self) -> str:
        """Why `start_rebuild` refused one: what an operator waits for."""
        if self.first_load is not None:
            return (
                "the first catch-up in parts is loading the topic into the active generation: "
                "a rebuild can start once it ends"
            )
        return "a rebuild is already running"

    def use(self, store: ViewStore, kept: dict[int, int]) -> None:
        self.store, self.first_loaded = store, None  # (another generation: its ends not known)
        self.projector = self._live_projector(store, kept)
        self._start_live()
