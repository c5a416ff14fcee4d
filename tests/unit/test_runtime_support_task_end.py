"""runtime_support.task_end: a task's own end (cancelled, failed, timed out) is swallowed; the
waiter's own cancellation is raised, once the task it passed on to has ended."""

from __future__ import annotations

import asyncio

import pytest

from runtime_support.task_end import cancelled, task_ended


async def _forever(ended: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        ended.append("task")


async def test_the_tasks_own_cancellation_and_failure_are_swallowed() -> None:
    async def fails() -> None:
        raise RuntimeError("its own")

    failing = asyncio.create_task(fails())
    await task_ended(failing)
    assert isinstance(failing.exception(), RuntimeError)
    ended: list[str] = []
    task = asyncio.create_task(_forever(ended))
    await asyncio.sleep(0)  # (it runs)
    await cancelled(task)
    assert task.cancelled()
    assert ended == ["task"]
    await cancelled(None)  # (nothing to cancel)


async def test_past_the_timeout_the_task_is_cancelled_and_the_wait_returns() -> None:
    ended: list[str] = []
    task = asyncio.create_task(_forever(ended))
    await task_ended(task, 0.05)  # (it runs meanwhile)
    assert task.cancelled()
    assert ended == ["task"]


async def test_the_waiters_own_cancellation_is_raised_after_the_task_ended() -> None:
    ended: list[str] = []
    task = asyncio.create_task(_forever(ended))
    carried_on: list[str] = []

    async def waiter() -> None:
        await task_ended(task)
        carried_on.append("after")  # (as a switch would, had the consumer merely ended)

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert task.cancelled()  # passed on, and waited for
    assert (ended, carried_on) == (["task"], [])


async def test_a_cancellation_the_task_absorbs_is_still_the_waiters() -> None:
    finish = asyncio.Event()

    async def absorbs() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await finish.wait()  # it ends by itself, normally
        return "done"

    task = asyncio.create_task(absorbs())
    carried_on: list[str] = []

    async def waiter() -> None:
        await task_ended(task)
        carried_on.append("after")

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.sleep(0.01)
    finish.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert task.result() == "done"
    assert carried_on == []


async def test_a_waiter_cancelled_before_it_waits_swallows_the_tasks_own_cancellation() -> None:
    """Cleaning up after its own cancellation (a `finally`), a waiter stops a task of its own:
    that task's cancellation is not the waiter's new one."""
    ended: list[str] = []
    outcome: list[str] = []

    async def waiter() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            task = asyncio.create_task(_forever(ended))
            await asyncio.sleep(0)
            await cancelled(task)
            outcome.append("cleaned up")

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (ended, outcome) == (["task"], ["cleaned up"])
