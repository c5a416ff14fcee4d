"""The active generation of the views and its live consumer (live_consumer.py), started and
stopped with the process; rebuilds (rebuilding.py) and the other instances sharing the store
(generation_follower.py) replace it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka.errors import KafkaError

from catalog_contract.kafka_auth import check_credentials
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.delivery_history import fill_from_topic
from projector.errors import ProjectorError
from projector.first_load import load_first, may_load_in_parts
from projector.generation_follower import GenerationFollower
from projector.generations import Generations
from projector.live_consumer import LiveConsumer
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.rebuild_status import RebuildStatus
from projector.rebuilding import Rebuild
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from projector.streams import StreamSlots
from projector.topic_writer import TopicWriter
from runtime_support.clean_up_after import Closings
from runtime_support.task_end import cancelled

log = logging.getLogger(__name__)
# How long a stop waits for the clean-ups of operations it could not interrupt (Closings): a
# store statement a follow started in a thread, say.
CLOSINGS_WAIT_S = 5.0


class Runtime(LiveConsumer):
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
        self.failure: str | None = None  # (LiveConsumer)
        self.on_failure = on_failure
        self.delivery = DeliveryStats(settings.delivery_max_catalogs)
        self.projector = self._live_projector(self.store)
        self.rebuild_status = RebuildStatus(generation=self.store.name)
        self._live: asyncio.Task[None] | None = None
        self._stop_live = asyncio.Event()
        self._rebuild: asyncio.Task[None] | None = None
        # A first catch-up in parts (first_load.py), then the live consumer; its progress while
        # it loads, then merged (readiness: LiveConsumer).
        self._first: asyncio.Task[None] | None = None
        self.first_load: RebuildStatus | None = None
        self.first_loaded: RebuildStatus | None = None
        # A killed load's parts went on (first_load_parts): their workers counted only what
        # they read since, so the delivery windows are read from the topic, as after a restart.
        self.first_load_resumed = False
        # Clean-ups of what a cancellation could not interrupt (the look's consumer, a follow's
        # store), run once it ended: Runtime.stop waits for them.
        self.closings = Closings()
        self._history: asyncio.Task[None] | None = None  # delivery windows from the topic
        self.streams = StreamSlots(settings.stream_max)
        self._pruner: asyncio.Task[None] | None = None
        self.follower = GenerationFollower(self)  # several instances on one store
        # A switch or a follow is under way: set before the live consumer stops, so that
        # neither starts while the other stops it (no two live consumers, no switch from views
        # this instance no longer serves).
        self.moving = False
        self.building: ViewStore | None = None

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
                # merge (the topic is not read a second time to fill them), unless resumed.
                merged = await self._start_delivery(from_topic=self.first_load_resumed)
                self.projector.mirror_stored = set(merged)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("no first catch-up in parts; the live consumer catches up alone: %r", exc)
        except Exception:
            log.exception("the first catch-up in parts failed; the live consumer catches up alone")
        finally:
            self.first_load = None  # (set by load_first) from here on no rebuild is refused
        self._start_live()

    async def stop(self) -> None:
        await self.follower.stop()
        await cancelled(self._history)
        await cancelled(self._pruner)
        await cancelled(self._rebuild)
        await self.stop_live_consumer()
        # The look's consumer: its start ended now, then closed; a follow's store: closed once
        # its statement ended (bounded: the process may end with that thread anyway).
        await self.closings.ended(CLOSINGS_WAIT_S)
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
