"""One timer for many waits: each overdue wait ends in TimeoutError within its limit plus one
tick, the others are untouched, and cancellations from elsewhere stay cancellations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from receiver.time_limits import TimeLimit


async def _sleep_within(limit: TimeLimit, seconds: float) -> str:
    async with limit():
        await asyncio.sleep(seconds)
    return "done"


async def _sleep_within_plainly(limit: TimeLimit, seconds: float) -> str:
    """The same as a plain `with` block (what the receiver uses: no coroutine per use)."""
    with limit():
        await asyncio.sleep(seconds)
    return "done"


BOTH_FORMS = pytest.mark.parametrize("sleep_within", [_sleep_within, _sleep_within_plainly])


@BOTH_FORMS
async def test_an_overdue_wait_times_out_and_a_prompt_one_finishes(
    sleep_within: Callable[[TimeLimit, float], Coroutine[Any, Any, str]],
) -> None:
    limit = TimeLimit(0.2, tick_s=0.05)
    started = time.monotonic()
    results: tuple[str | BaseException, ...] = await asyncio.gather(
        sleep_within(limit, 30), sleep_within(limit, 0.01), return_exceptions=True
    )
    slow, fast = results
    took = time.monotonic() - started
    assert isinstance(slow, TimeoutError)
    assert fast == "done"
    assert 0.2 <= took < 5  # the limit, plus a tick (wide margin: a loaded machine)
    assert len(limit) == 0


async def test_many_waits_share_one_limit_and_each_is_judged_by_when_it_began() -> None:
    limit = TimeLimit(0.3, tick_s=0.05)

    async def begin_later(delay: float, seconds: float) -> str:
        await asyncio.sleep(delay)
        return await _sleep_within(limit, seconds)

    results = await asyncio.gather(
        *(begin_later(0.02 * i, 30 if i % 2 else 0.05) for i in range(20)),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [str if i % 2 == 0 else TimeoutError for i in range(20)]
    assert len(limit) == 0


@BOTH_FORMS
async def test_a_cancellation_from_elsewhere_stays_a_cancellation(
    sleep_within: Callable[[TimeLimit, float], Coroutine[Any, Any, str]],
) -> None:
    limit = TimeLimit(30)
    task = asyncio.create_task(sleep_within(limit, 30))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(limit) == 0


@BOTH_FORMS
async def test_a_wait_that_ends_in_time_leaves_the_task_uncancelled(
    sleep_within: Callable[[TimeLimit, float], Coroutine[Any, Any, str]],
) -> None:
    limit = TimeLimit(0.05, tick_s=0.01)
    assert await sleep_within(limit, 0) == "done"
    await asyncio.sleep(0.2)  # the timer ran with nothing to stop
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0


async def test_an_error_inside_the_block_passes_through() -> None:
    limit = TimeLimit(30)
    with pytest.raises(ValueError, match="inside"):
        async with limit():
            raise ValueError("inside")
    assert len(limit) == 0
