"""Waiting for another task to end, as a stop does: that task's own cancellation or failure is
not the waiter's (it was reported where the task ended, or is not needed now), but a
cancellation of the waiter while it waits is the waiter's own, and raised. Swallowing both alike
(`contextlib.suppress(asyncio.CancelledError)`) made a cancelled caller carry on as if the task
had merely ended: a rebuild's switch, cancelled by a stop while it waited for the live consumer
to end, went on to move the pointer during the stop."""

from __future__ import annotations

import asyncio
from typing import Any


async def task_ended(task: asyncio.Future[Any], timeout_s: float | None = None) -> None:
    """Wait until `task` ended (cancelled past `timeout_s`, if given). Raises CancelledError
    only if the caller itself was cancelled meanwhile (asyncio.wait_for passes that cancellation
    on to `task`, and waits for it to end, before raising it here)."""
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    try:
        await asyncio.wait_for(task, timeout_s)
    except asyncio.CancelledError:
        if current is not None and current.cancelling() > before:
            raise  # the caller's own
    except Exception:  # noqa: S110 (the task's own failure, or its timeout: it ended either way)
        pass
    # A cancellation `task` absorbed (it ended normally, or `wait_for` returned its result as
    # the cancellation came) is the caller's all the same.
    if current is not None and current.cancelling() > before:
        raise asyncio.CancelledError


async def cancelled(task: asyncio.Future[Any] | None) -> None:
    """Cancel `task` (if any) and wait until it ended, as `task_ended`."""
    if task is not None:
        task.cancel()
        await task_ended(task)
