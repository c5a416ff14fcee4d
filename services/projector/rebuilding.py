"""A rebuild without downtime: a new generation is built from the whole topic under a consumer
group of its own while the active generation keeps serving. Once it has caught up, the live
consumer stops after its batch, the pointer moves to the new generation, and a live consumer
resumes there from the new generation's own offsets. Readers hold the old or the new
generation, never a half-built one."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import TYPE_CHECKING

from projector.consumer import ConsumerLoop
from projector.errors import ProjectorError
from projector.first_load import topic_bounds
from projector.held_dead_letters import HeldDeadLetters
from projector.metrics import ProjectorMetrics
from projector.rebuild_recreated import recreated_partitions, without
from projector.rebuild_split import load_in_parts
from projector.rebuild_status import RebuildStatus, phase, reason
from projector.rebuild_stops import halted
from projector.rebuild_switch import Switch
from projector.store import ViewStore

if TYPE_CHECKING:
    from projector.runtime import Runtime

log = logging.getLogger(__name__)


class Rebuild(Switch):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.status = runtime.rebuild_status = RebuildStatus(
            state="running", started_at=time.time()
        )
        self._mark = time.perf_counter()  # when the step being timed started (_phase)
        # Partitions of a topic deleted and created again, whose old positions mean nothing
        # (topic_behind.py): built as the topic now is, whatever the old generation says.
        self.recreated: frozenset[int] = frozenset()

    def _positions(self, store: ViewStore) -> dict[int, int]:
        """`store`'s positions, but for recreated partitions (off the loop: it reads the store)."""
        return without(store.positions(self.runtime.settings.topic), self.recreated)

    async def _recreated(self, base: ViewStore) -> frozenset[int]:
        settings, closings = self.runtime.settings, self.runtime.closings

        async def ends() -> dict[int, int]:
            return (await topic_bounds(settings, closings))[1]

        # Those this instance's consumer said behind are, though the topic may have grown past
        # the views' position since (paused): else their new records below it went unfed.
        kept = await asyncio.to_thread(base.behind, settings.topic)  # (any instance's)
        said = frozenset(self.runtime.projector.behind) | frozenset(kept)
        return said | await recreated_partitions(
            ends, await asyncio.to_thread(base.positions, settings.topic)
        )

    async def run(self) -> None:
        """Built, switched, and the old generation retired (GenerationFollower.retire)."""
        await (await self.build())

    async def build(self) -> asyncio.Task[None]:
        """Build, then switch: returns the old generation's retirement, running beside."""
        runtime, status = self.runtime, self.status
        settings = runtime.settings
        fresh = runtime.generations.open_new()
        status.generation = fresh.name
        builder_settings = settings.model_copy(
            update={"group_id": f"{settings.group_id}-rebuild-{time.time_ns()}"}
        )
        base = runtime.store  # what it is built against (keep_past, feed_from)
        stop_builder = asyncio.Event()
        task: asyncio.Task[None] | None = None
        try:  # (from its first read of the store: one that fails is the rebuild's failure too)
            # Every change below the active generation's positions is in its feed, which the
            # switch keeps (continue_feed_of): the builder need not write them only to delete
            # them there.
            self.recreated = await self._recreated(base)
            announced = await asyncio.to_thread(self._positions, base)
            builder = ConsumerLoop(
                builder_settings,
                fresh,
                ProjectorMetrics(),  # its counts stay apart
                restater=runtime.restater,
                dead_letters=HeldDeadLetters(runtime.dead_letters),  # written at the switch
                feed_from=announced,
            )
            # Keep and restate only what no live consumer kept: records at or past the active
            # generation's positions, on every instance's partitions (read per batch): the
            # builder reads on past where they stop at the switch, and only it applies those.
            builder.keep_past = functools.partial(self._positions, base)
            runtime.building = fresh
            await runtime.follower.heartbeat()  # in use before it exists: not taken as abandoned
            mark = phase("prepared", self._mark)  # (its positions read, its heartbeat)
            await asyncio.to_thread(fresh.create, False)  # the indexes after the load
            mark = phase("tables created", mark)
            await load_in_parts(runtime, fresh, announced, status)  # SQLite, on several cores
            mark = phase("loaded in parts", mark)
            task = asyncio.create_task(builder.run(stop_builder))
            while not builder.caught_up():
                if runtime.store is not base:  # followed another instance's switch meanwhile
                    moved_to = runtime.store.name
                    raise ProjectorError(f"another instance switched the views to {moved_to}")
                if task.done():
                    task.result()  # raises what stopped it
                self._report(builder)
                await asyncio.sleep(0.2)
            self._mark = phase("builder caught up", mark)
            return await self.switch_to(base, fresh, builder, stop_builder, task)
        except (Exception, asyncio.CancelledError) as exc:
            if status.state == "done":  # switched (nothing awaits after that: kept as a guard)
                raise  # (`fresh` is the active one now: never discarded here)
            # A cancellation (the projector stopping) is no Exception, yet it ends the rebuild
            # as surely: else its status said `running` for good.
            if isinstance(exc, asyncio.CancelledError):
                log.warning("rebuild cancelled; the active generation keeps serving")
            else:
                log.exception("rebuild failed; the active generation keeps serving")
            if task is not None:
                await halted(task, stop_builder)
            ended = time.time()  # as a finished one says (the discard below may take long)
            try:
                await asyncio.to_thread(runtime.generations.discard, fresh)
            except Exception:  # (the same outage, often): the failure raised is the rebuild's
                # own, the one its status reports, whatever this one is; this one is logged
                log.exception(
                    "the failed rebuild's generation was not dropped; a later start's sweep drops"
                    " it",
                    extra={"generation": fresh.name},
                )
            finally:
                # Not before the discard: until the task ends a new rebuild is refused (409),
                # so it says `running` as long (`failed` read, the next one may start).
                status.state, status.error, status.finished_at = "failed", reason(exc), ended
            raise
        finally:
            runtime.building = None

    def start(self) -> asyncio.Task[None]:
        """In the background: the task ends as its status leaves `running` (a second one is
        refused only while it runs), the old generation's retirement beside it. Cancelled
        before its first step, it runs none of `build`: its status is ended here then."""
        task = asyncio.create_task(self._until_switched())
        task.add_done_callback(self._ended)
        return task

    async def _until_switched(self) -> None:
        await self.build()

    def _ended(self, task: asyncio.Task[None]) -> None:
        status = self.status
        if task.cancelled() and status.state == "running":
            status.state, status.error = "failed", reason(asyncio.CancelledError())
            status.finished_at = time.time()
