"""Several instances on one PostgreSQL store: each says every second which generations it uses
(so that no other instance drops one under its readers or its rebuild), and follows the pointer
when another instance's rebuild moves it (generations_postgres). Retired generations are closed
once their readers finished, and dropped once no instance uses them (generations_retired)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from projector.errors import StoreFailed
from projector.generations_retired import RetiredGenerations
from projector.rebuild_status import RebuildStatus
from projector.store import ViewStore
from runtime_support.task_end import cancelled

if TYPE_CHECKING:
    from projector.runtime import Runtime

log = logging.getLogger(__name__)
HEARTBEAT_S = 1.0  # how often an instance says what it uses and checks the pointer
# How often a running instance drops generations no live instance uses (a rebuild whose process
# was killed): not only at a later start, when the schema may have sat there for weeks.
ABANDONED_EVERY_S = 300.0


class GenerationFollower(RetiredGenerations):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.moved = asyncio.Event()  # the live consumer saw another instance's switch
        self.retired: list[ViewStore] = []  # replaced generations, closed after a grace time
        self._tasks: set[asyncio.Task[None]] = set()  # the watch, follows and their retiring
        self._sweeping: asyncio.Task[None] | None = None  # dropping abandoned generations
        self._failing = False  # the watch's checks fail (said once, not every second)
        self._follow_failing = False  # and so do its follows
        # Why this instance is not ready, if the watch's checks fail for a reason no retry
        # mends (the generation pointer broken): None otherwise.
        self.defect: str | None = None
        self._said = 0  # heartbeats made, in order
        # A follow stopped the live consumer and started none (it failed): started again
        # there if the pointer names this instance's generation once more (_resume).
        self._halted = False
        self._stopped = False  # (a retirement after the stop is left to discard_retired)
        self._following: str | None = None  # the generation a follow opens (said in use)

    def start(self) -> None:
        self._spawn(self._watch()).add_done_callback(self._watch_ended)

    def _watch_ended(self, task: asyncio.Task[None]) -> None:
        """The watch retries what fails on its own; if it ends, a defect ended it, and this
        instance would go on without saying what it uses (another instance's sweep or switch
        then drops its generation under its readers) nor following the pointer."""
        if not task.cancelled():
            self.runtime.fail("generation watch stopped", "the generation watch died; exiting",
                              task.exception())  # fmt: skip

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        """Cancel the watch and what it started, each awaited in turn: one started meanwhile
        (the watch runs until its turn) is cancelled too. Once stopped, the watch starts no
        follow or resume, and one under way starts no live consumer: cancelled, it ends where
        it waits (stop_live_consumer raises the cancellation); not yet cancelled (its turn
        comes later), it sees `_stopped` once that wait ends."""
        self._stopped = True
        tasks = list(self._tasks)
        while tasks:
            for task in tasks:
                await cancelled(task)
            tasks = [t for t in self._tasks if not t.done()]  # (a done one may be listed yet)

    def in_use(self) -> list[str]:
        runtime = self.runtime
        building = [runtime.building.name] if runtime.building is not None else []
        following = [self._following] if self._following is not None else []
        return [runtime.store.name, *(r.name for r in self.retired), *building, *following]

    async def heartbeat(self, using: list[str] | None = None) -> str | None:
        """Say which generations this instance uses (`using`, else `in_use()`, as of now)."""
        self._said += 1  # numbered as made, on the loop: the threads may reach the store later
        listed = self.in_use() if using is None else using
        return await asyncio.to_thread(self.runtime.generations.heartbeat, listed, self._said)

    async def _watch(self) -> None:
        """Say which generations this instance uses, and follow the pointer when another
        instance's rebuild moves it (at once if the live consumer saw the move in a batch)."""
        swept = time.monotonic()
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.moved.wait(), HEARTBEAT_S)
            self.moved.clear()
            if time.monotonic() - swept >= ABANDONED_EVERY_S and not self._is_sweeping():
                swept = time.monotonic()  # beside the watch: a DROP may wait for locks
                self._sweeping = asyncio.create_task(self._sweep())
                self._tasks.add(self._sweeping)
                self._sweeping.add_done_callback(self._tasks.discard)
            # A move the live consumer sees during the heartbeat came after its read of the
            # pointer (naming this generation still): no move back. The next round (at once:
            # `moved` is set) reads it again, and follows.
            projector = self.runtime.projector
            stopped_before = projector.moved or self._halted
            try:
                active = await self.heartbeat()
            except Exception as exc:  # the watch goes on: the next second retries
                self._check_failed(exc)
                continue
            if self._failing:
                log.info("the active generation is checked again")
                self._failing = False
                self.defect = None
            runtime = self.runtime
            if active is None or runtime.moving or self._stopped:  # (stopping: it starts nothing)
                continue
            if active != runtime.store.name:
                # Set here, before anything awaits: a rebuild's switch does not start meanwhile,
                # and the follow runs beside the watch, whose heartbeats go on (it may take long
                # to stop a slow consumer, and this instance still uses the old generation).
                runtime.moving = True
                self._spawn(self._follow())
            elif stopped_before and runtime.projector is projector:  # (else a resume ran)
                runtime.moving = True  # (as for a follow: no switch starts meanwhile)
                self._spawn(self._resume())

    def _check_failed(self, exc: Exception) -> None:
        """Said once per kind: an outage (a warning), or a pointer no wait brings back (an
        operator dropped its table, deleted its row: StoreFailed, generations_pointer), at
        ERROR, and this instance is not ready until it is back (/readyz says why). It serves
        what it has meanwhile, and follows no pointer."""
        defect = isinstance(exc, StoreFailed)
        if defect and self.defect is None:
            log.error("the generation pointer is broken, not ready until it is restored: %s", exc)
        elif not defect and (self.defect is not None or not self._failing):
            log.warning("could not check the active generation, retrying every second: %s", exc)
        self.defect = str(exc) if defect else None
        self._failing = True

    def _is_sweeping(self) -> bool:
        return self._sweeping is not None and not self._sweeping.done()

    async def _sweep(self) -> None:
        try:
            found = await asyncio.to_thread(self.runtime.generations.discard_abandoned)
        except Exception as exc:  # the next sweep tries again
            log.warning("could not delete abandoned generations: %s", exc)
            return
        if found:
            log.warning("deleted generations a stopped process left", extra={"names": found})

    async def _follow(self) -> None:
        """Another instance switched the views: serve and update the new generation, from its
        positions; what this instance kept before is not kept again."""
        runtime = self.runtime
        try:
            self._halted = True  # (until a live consumer runs again: else _resume starts one)
            await runtime.stop_live_consumer()
            if self._stopped:  # (stopping: its cancellation, in its turn, is not yet here)
                return
            old, kept = runtime.store, dict(runtime.projector.kept)
            fresh = await self._open_said()
            await self._create(fresh)
            runtime.use(fresh, kept)
            self._halted = False
        except Exception as exc:  # the next heartbeat tries again
            if not self._follow_failing:
                log.warning(
                    "could not follow the active generation, retrying every second: %s", exc
                )
                self._follow_failing = True
            return
        finally:
            self._following = None
            runtime.moving = False
        self._follow_failing = False  # the line below says it works again
        log.info("views switched by another instance", extra={"generation": fresh.name})
        if runtime.rebuild_status.state != "running":  # (a rebuild here fails at its switch)
            runtime.rebuild_status = RebuildStatus(generation=fresh.name)
        self.retire(old, drop=False)

    async def _create(self, fresh: ViewStore) -> None:
        """Make the followed generation's tables; failed or cancelled (a stop), the store is
        closed once its thread is done with it (the thread goes on after a cancel: closing the
        connection under it would break its statement; left open, the connection leaked)."""

        async def close() -> None:
            fresh.close()

        creating = asyncio.ensure_future(asyncio.to_thread(fresh.create))
        await self.runtime.closings.shielded(creating, close)

    async def _open_said(self) -> ViewStore:
        """The active generation, said in use before it is used: the instance that moves the
        pointer on (a rebuild right after another) drops it unless said. Read again after, the
        pointer still names it (that switch comes later and sees it said) or it is opened anew."""
        while True:
            fresh = await asyncio.to_thread(self.runtime.generations.open_active)
            self._following = fresh.name
            if await self.heartbeat() == fresh.name:
                return fresh
            fresh.close()  # (nothing opened on it yet)

    async def _resume(self) -> None:
        """The pointer names the generation this instance serves, yet its live consumer stopped
        for a move: a batch saw the pointer name another generation (or a follow stopped it,
        then failed), and the pointer was moved back before this instance followed. Nothing
        else starts it again: the live consumer runs there again, from the stored positions
        (what its predecessor kept is not kept again, as after a follow)."""
        runtime = self.runtime
        try:
            await runtime.stop_live_consumer()  # (ended, or ending: its batch not written)
            if self._stopped:  # (stopping: its cancellation, in its turn, is not yet here)
                return
            runtime.use(runtime.store, dict(runtime.projector.kept))
            self._halted = False
        finally:
            runtime.moving = False
        log.warning(
            "the generation pointer names this instance's generation again: live consumer"
            " started again",
            extra={"generation": runtime.store.name},
        )
