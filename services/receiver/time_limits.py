"""One fixed time limit for many concurrent waits, kept with one timer.

`asyncio.timeout` arms a timer of its own per use; at thousands of postbacks a second, two per
postback (reading the body, waiting for Kafka's acknowledgement) cost more CPU than validating
the postback (~10-20 µs each under uvloop). Here every wait under the same limit joins one
queue, in the order the waits began, which is also the order their limits run out; one timer,
armed only while a wait is queued, wakes every `tick_s` and cancels the overdue ones. A wait is
thus stopped between `limit_s` and `limit_s + tick_s` after it began, and sees TimeoutError, as
with `asyncio.timeout`; a cancellation from elsewhere stays a CancelledError.

A use is a plain `with` block inside the task (nothing in entering or leaving it awaits), which
costs less than `async with` (two coroutines a use); `async with` works too.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType


class _Wait:
    """One use of a TimeLimit (its `async with` block)."""

    __slots__ = ("cancelling", "deadline", "expired", "limit", "task")

    def __init__(self, limit: TimeLimit) -> None:
        self.limit = limit
        self.expired = False

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a time limit works inside a task")
        self.task = task
        self.cancelling = task.cancelling()
        self.deadline = time.monotonic() + self.limit.limit_s
        self.limit.began(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.limit.ended(self)
        # As asyncio.timeout: our own cancellation becomes TimeoutError, anyone else's stays.
        # (uncancel first, whatever ended the block: the cancellation was ours)
        uncancelled = self.expired and self.task.uncancel() <= self.cancelling
        if uncancelled and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


class TimeLimit:
    """`with limit():` (in a task) raises TimeoutError once the block has run `limit_s` (at most
    `tick_s` later)."""

    def __init__(self, limit_s: float, tick_s: float | None = None) -> None:
        self.limit_s = limit_s
        self.tick_s = tick_s if tick_s is not None else min(0.1, max(0.005, limit_s / 10))
        self._waits: dict[int, _Wait] = {}  # by id, in the order they began
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self) -> _Wait:
        return _Wait(self)

    def __len__(self) -> int:
        return len(self._waits)

    def began(self, wait: _Wait) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # (tests run each in a loop of its own)
            self._loop, self._timer = loop, None
            self._waits.clear()
        self._waits[id(wait)] = wait
        if self._timer is None:
            self._timer = loop.call_later(self.tick_s, self._sweep)

    def ended(self, wait: _Wait) -> None:
        self._waits.pop(id(wait), None)

    def _sweep(self) -> None:
        self._timer = None
        now = time.monotonic()
        for wait in list(self._waits.values()):
            if wait.deadline > now:
                break  # the rest began later
            if not wait.expired:
                wait.expired = True
                wait.task.cancel()
        if self._loop is not None and any(not w.expired for w in self._waits.values()):
            self._timer = self._loop.call_later(self.tick_s, self._sweep)
