"""A rebuild's switch (rebuilding.Rebuild): the builder brought to the live consumers'
positions, the pointer held, the old generation's feed and owed restatements carried over, and
the pointer moved to the new generation; or, failing, the active generation kept serving."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from projector.consumer import ConsumerLoop
from projector.errors import ProjectorError
from projector.held_dead_letters import HeldDeadLetters
from projector.rebuild_recreated import without
from projector.rebuild_status import RebuildStatus, phase
from projector.rebuild_stops import entered, halted, stopped
from projector.rebuild_stops import until_reached as until_reached  # (patched by this name)
from projector.store import ViewStore

if TYPE_CHECKING:
    from projector.runtime import Runtime

log = logging.getLogger(__name__)
# How long the switch waits for the builder to reach the live consumers' positions, before the
# pointer is held and again under it, and then for it to stop; past it the rebuild fails.
REACH_TIMEOUT_S = 60.0


class Switch:
    """Mixed into Rebuild, which sets these in its __init__."""

    runtime: Runtime
    status: RebuildStatus
    recreated: frozenset[int]
    _mark: float

    if TYPE_CHECKING:  # Rebuild's

        def _positions(self, store: ViewStore) -> dict[int, int]: ...

    def _report(self, builder: ConsumerLoop) -> None:
        status, metrics = self.status, self.runtime.metrics
        status.applied = sum(builder.reached().values())  # (an end with no record: reached)
        status.target = sum(builder.end_offsets.values())
        metrics.rebuild_applied.set(status.applied)
        metrics.rebuild_target.set(status.target)

    async def switch_to(
        self,
        base: ViewStore,
        fresh: ViewStore,
        builder: ConsumerLoop,
        stop_builder: asyncio.Event,
        task: asyncio.Task[None],
    ) -> asyncio.Task[None]:
        """Switch the views to `fresh`; returns the old generation's retirement (beside)."""
        runtime = self.runtime
        if runtime.moving or runtime.store is not base:  # following another instance's switch
            raise ProjectorError("another instance switched the views")
        runtime.moving = True  # before the live consumer stops: no follow starts meanwhile
        try:
            await runtime.stop_live_consumer()
            kept = without(runtime.projector.kept, self.recreated)
            # Below these another process wrote the dead letters (a first catch-up's parts not
            # merged, first_load.py): the live consumer did not, nor may the builder.
            written = runtime.projector.dead_letters_from
            await self._move_pointer(base, fresh, builder, stop_builder, task, kept, written)
        finally:
            runtime.moving = False
        self.status.state, self.status.finished_at = "done", time.time()
        phase("switched", self._mark)
        log.info("views rebuilt", extra={"generation": self.status.generation})
        # Beside: the next rebuild may start while the old generation retires (it uses only
        # the active one and its own; the old one is said in use until it is discarded).
        return runtime.follower.retire(base, drop=True)

    async def _move_pointer(
        self,
        old: ViewStore,
        fresh: ViewStore,
        builder: ConsumerLoop,
        stop_builder: asyncio.Event,
        task: asyncio.Task[None],
        kept: dict[int, int],
        written: dict[int, int] | None,  # dead letters below these on the topic already
    ) -> None:
        runtime = self.runtime
        try:
            # The read API's indexes, one pass each, before the pointer is held: every other
            # instance's live batches wait for the held pointer, and on a large catalog this
            # build is the switch's longest step (the builder's last batches wait for it instead).
            mark = time.perf_counter()
            await asyncio.to_thread(fresh.create)
            mark = phase("read indexes built", mark)
            # The builder gets to where the live consumers are before the pointer is held too
            # (they go on meanwhile), so that under it only their last few batches are waited
            # for, not its whole way from `caught_up` (the held row stops every instance).
            ahead = await asyncio.to_thread(self._positions, old)
            await until_reached(builder, ahead, task, REACH_TIMEOUT_S)
            # Held from reading the old generation's positions to moving the pointer: no
            # instance writes a batch into the old generation in between (generations_postgres).
            holding = runtime.generations.holding_pointer()  # entered off the loop: it may wait
            active = await entered(holding)  # (a cancellation leaves no row held)
            try:
                if active != old.name:
                    raise ProjectorError(f"another instance switched the views to {active}")
                announced = await asyncio.to_thread(self._positions, old)
                await until_reached(builder, announced, task, REACH_TIMEOUT_S)
                stop_builder.set()
                await stopped(task, REACH_TIMEOUT_S)  # (a stuck batch: bounded, as the row is)
                self._report(builder)
                # The feed's sequence goes on across the switch: the new generation keeps the
                # old feed (same numbers) and adds only changes of records the old one had not
                # applied, so a client following `after=` or the stream neither misses nor
                # repeats a change; and, a recreated topic rebuilt, the removal of each item
                # the rebuild dropped (else such a client keeps them for good).
                dropped = await asyncio.to_thread(
                    fresh.continue_feed_of, old, announced, say_dropped=bool(self.recreated)
                )
                await asyncio.to_thread(fresh.continue_owed_of, old)  # failed restatements
                if isinstance(held := builder.dead_letters, HeldDeadLetters):
                    # What the live consumers kept ends at their positions, or, this
                    # instance's, where it kept past them (a batch then refused as moved).
                    # Last before the move: a switch failing after this has written them.
                    before = without(written or {}, self.recreated)
                    await held.due_past(_furthest(announced, kept, before))
                    written = _furthest(written or {}, builder.applied)
                await asyncio.to_thread(runtime.generations.activate, fresh)
            finally:
                await asyncio.to_thread(holding.__exit__, None, None, None)
        except Exception:
            # No switch: the active generation keeps serving, and keeps being updated (else its
            # views freeze, and every `min_position` read waits into a 504 from then on). The
            # builder first ends: past the old positions, it would write the dead letters and
            # restatements the restarted live consumer writes again.
            await halted(task, stop_builder)
            runtime.use(old, kept)
            # The builder may have written the dead letters of what it read: the live consumer,
            # going on below them, reads those records again (else each was twice on the topic).
            runtime.projector.dead_letters_from = written
            raise
        # The switch itself: readers that took `runtime.store` before this line finish on the
        # old, complete generation; later ones get the new, complete one.
        runtime.use(fresh, kept)
        if dropped:
            said = {"items": dropped, "partitions": sorted(self.recreated)}
            log.warning(
                "the rebuild dropped items the recreated topic lacks: the feed says so", extra=said
            )


def _furthest(*positions: Mapping[int, int]) -> dict[int, int]:
    """Per partition, the furthest of these positions."""
    return {p: max(each.get(p, 0) for each in positions) for p in set().union(*positions)}
