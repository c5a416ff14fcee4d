"""The active generation's live consumer, as the runtime runs it: started (after a first
catch-up in parts, if there is one), reported when it dies by itself, stopped for a rebuild's
switch, a follow or the stop, and started again on the generation the views use then (`use`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from projector.consumer import ConsumerLoop
from projector.dead_letter_writer import DeadLetterWriter
from projector.delivery import DeliveryStats
from projector.metrics import ProjectorMetrics
from projector.position_waiters import PositionWaiters
from projector.rebuild_status import RebuildStatus
from projector.restatement_writer import RestatementWriter
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from runtime_support.task_end import task_ended

if TYPE_CHECKING:
    from projector.generation_follower import GenerationFollower

log = logging.getLogger(__name__)
LIVE_END_WAIT_S = 60.0  # a live consumer not ended by then (a stuck batch) is cancelled


class LiveConsumer:
    """Mixed into Runtime, which sets these in its __init__."""

    settings: ProjectorSettings
    metrics: ProjectorMetrics
    progress: asyncio.Condition
    waiters: PositionWaiters
    restater: RestatementWriter | None
    dead_letters: DeadLetterWriter
    delivery: DeliveryStats
    follower: GenerationFollower
    store: ViewStore
    projector: ConsumerLoop
    # Why the live consumer stopped by itself, if it did: the instance is then not ready,
    # not healthy, and `on_failure` ends the process so that a supervisor restarts it.
    failure: str | None
    on_failure: Callable[[], None] | None
    _live: asyncio.Task[None] | None
    _stop_live: asyncio.Event
    _first: asyncio.Task[None] | None  # a first catch-up in parts, then the live consumer
    # A merged first catch-up, which /readyz answers from until the live consumer knows the
    # topic's ends (health_routes): cleared then, by the live consumer (`_start_live`).
    first_loaded: RebuildStatus | None

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

    def _start_live(self) -> None:
        if self.first_loaded is not None:
            self.projector.when_ends_known = self._first_load_answered
        self._stop_live = asyncio.Event()
        self._live = asyncio.create_task(self.projector.run(self._stop_live))
        self._live.add_done_callback(self._live_ended)

    def _first_load_answered(self) -> None:
        """The live consumer knows the topic's ends: from now on it answers /readyz, for good
        (a rebalance's ends not yet known are its to say)."""
        self.first_loaded = None

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
        """Stop the live consumer (or the first catch-up that would start it) and wait for its
        end. Its own failure was reported as it ended; a cancellation of the caller's while it
        waits is raised (task_ended): the caller (a switch, a follow) stops too."""
        self._stop_live.set()
        if self._first is not None:  # a first catch-up not yet done: it starts no consumer
            self._first.cancel()
            await task_ended(self._first)
            self._first = None
        if self._live is not None:
            await task_ended(self._live, LIVE_END_WAIT_S)
            self._live = None

    def use(self, store: ViewStore, kept: dict[int, int]) -> None:
        self.store, self.first_loaded = store, None  # (another generation: its ends not known)
        # What the old generation's consumer found behind (topic_behind.py) a rebuild mended:
        # the gauge (an alert) said it for good. The new consumer says it again if it is not.
        self.metrics.topic_behind.clear()
        self.projector = self._live_projector(store, kept)
        self._start_live()
