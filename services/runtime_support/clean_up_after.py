"""Operations that cannot be interrupted safely once started, and the clean-up each needs once it
ended. A thread's store statement goes on after a cancellation (closing the connection under it
breaks the statement; left open, the connection leaks); aiokafka's start, cancelled while its
bootstrap connection waits for an answer, leaves that connection open for good. Such an
operation is awaited shielded; if that wait is interrupted (a stop's cancellation, a timeout
around it), the operation goes on, and its clean-up is handed to a task of its own that runs it
once the operation ended. The task is kept (`Closings`) so that a stop can wait for it
(`ended`, bounded), and neither a second cancellation of the caller nor one of the task itself
skips the clean-up. An operation that can be ended early and safely says how (`interrupt`): a
stop asks it to, rather than wait for it to end by itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Closings:
    """The clean-ups handed over and not yet done."""

    def __init__(self) -> None:
        # task -> how to end its operation early, if it can be (None: it cannot)
        self._pending: dict[asyncio.Task[None], Callable[[], None] | None] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def after(
        self,
        started: asyncio.Future[Any],
        clean_up: Callable[[], Awaitable[None]],
        interrupt: Callable[[], None] | None = None,
    ) -> asyncio.Task[None]:
        """Run `clean_up` once `started` ended, however it ends (its outcome retrieved here:
        never "exception never retrieved"), in a task kept until it is done."""
        task = asyncio.create_task(_after(started, clean_up))
        self._pending[task] = interrupt
        task.add_done_callback(self._discard)
        return task

    def _discard(self, task: asyncio.Task[None]) -> None:
        self._pending.pop(task, None)

    async def shielded(
        self, started: asyncio.Future[T], clean_up: Callable[[], Awaitable[None]]
    ) -> T:
        """`started`'s result, awaited shielded. Failed, or this wait interrupted, `clean_up`
        runs once `started` ended (`after`), and what ended the wait is raised at once."""
        try:
            return await asyncio.shield(started)
        except BaseException:
            self.after(started, clean_up)
            raise

    async def ended(self, timeout_s: float) -> bool:
        """A stop: the operations that can end early are asked to, then every clean-up is
        waited for, at most `timeout_s` (one left past that runs on by itself). Whether all
        ended."""
        for task, interrupt in list(self._pending.items()):
            if interrupt is not None:
                self._pending[task] = None  # asked once
                interrupt()
        if not self._pending:
            return True
        _, left = await asyncio.wait(set(self._pending), timeout=timeout_s)
        if left:
            log.warning("clean-ups still waiting for their operations at the stop: %d", len(left))
        return not left


async def _after(started: asyncio.Future[Any], clean_up: Callable[[], Awaitable[None]]) -> None:
    cancelled = await _waited_out(started)
    if not started.cancelled():
        started.exception()  # retrieved: raised to its caller already, or no longer needed
    cleaning = asyncio.ensure_future(clean_up())
    cancelled = await _waited_out(cleaning) or cancelled
    if not cleaning.cancelled() and (exc := cleaning.exception()) is not None:
        log.warning("a clean-up failed: %r", exc, exc_info=exc)
    if cancelled:  # (ended as asked, once its clean-up was done)
        raise asyncio.CancelledError


async def _waited_out(future: asyncio.Future[Any]) -> bool:
    """Wait until `future` is done, whatever cancels this wait meanwhile (`future` is never
    cancelled by it); whether something did."""
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            cancelled = True
    return cancelled
