"""Generations this instance no longer serves (replaced by a switch, here or elsewhere): said in
use until readers holding them finish, then closed; dropped by the instance that switched, once
no other instance uses them (else by a later start's or sweep's discard)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from projector.store import ViewStore

if TYPE_CHECKING:
    from projector.runtime import Runtime

log = logging.getLogger(__name__)
FOLLOW_WAIT_S = 30.0  # how long a switch waits for the other instances to leave the old views


class RetiredGenerations:
    """Mixed into GenerationFollower, which sets these in its __init__."""

    runtime: Runtime
    retired: list[ViewStore]  # replaced generations, closed after a grace time
    _stopped: bool  # (a retirement after the stop is left to discard_retired)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        raise NotImplementedError  # (GenerationFollower's: a task of its watch's)

    def retire(self, old: ViewStore, drop: bool) -> asyncio.Task[None]:
        """Readers holding the old generation finish, then it is closed; dropped by the instance
        that switched, once no other instance uses it (else at a later start). Beside the
        caller, as a task of this watch's (cancelled at stop, where discard_retired ends it):
        a rebuild's switch is done meanwhile, and the next one may start."""
        self.retired.append(old)  # before any await: every heartbeat says it is in use
        old.retired = True  # a reader still on it, failing, asks again (store.py)
        if self._stopped:  # (stopping: discard_retired, which comes next, takes it)
            return asyncio.create_task(asyncio.sleep(0))
        return self._spawn(self._retiring(old, drop))

    async def _retiring(self, old: ViewStore, drop: bool) -> None:
        await asyncio.sleep(1)
        await self._discard(old, drop, wait_s=FOLLOW_WAIT_S)

    async def discard_retired(self) -> None:
        for old in list(self.retired):
            await self._discard(old, drop=True, wait_s=0)

    async def _discard(self, old: ViewStore, drop: bool, wait_s: float) -> None:
        generations = self.runtime.generations
        deadline = time.monotonic() + wait_s
        in_use = drop and await asyncio.to_thread(generations.in_use_elsewhere, old.name)
        while in_use and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            in_use = await asyncio.to_thread(generations.in_use_elsewhere, old.name)
        if old not in self.retired:
            return  # discarded meanwhile (at stop)
        self.retired.remove(old)
        if in_use:
            log.warning("a retired generation is still in use elsewhere; a later start "
                        "deletes it", extra={"generation": old.name})  # fmt: skip
        if not (drop and not in_use):
            old.close()
            return
        try:
            await asyncio.to_thread(generations.discard, old)
        except Exception as exc:  # the switch stands (not a failed rebuild): a sweep deletes it
            log.warning(
                "could not delete a retired generation; a later sweep deletes it: %s",
                exc,
                extra={"generation": old.name},
            )
