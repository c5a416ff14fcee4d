"""What the tests of a rebuild's held dead letters (held_dead_letters.py) share: a live consumer
whose batch with an unreadable record waits, keeping nothing, while the builder reads on; its
stop at the switch, cut short or after it kept the record."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from projector.batch import BatchPlan
from projector.consumer import ConsumerLoop
from projector.records import Unreadable
from projector.runtime import Runtime


def live_waits(
    monkeypatch: pytest.MonkeyPatch,
    matches: Callable[[Unreadable], bool],
    waiting: asyncio.Event | None = None,
) -> asyncio.Event:
    """The live consumer's batch with a record `matches` waits before it keeps anything (set
    `waiting` then) until the returned event is set; the builder's batches go on."""
    release = asyncio.Event()
    keep = ConsumerLoop._keep_and_restate

    async def held(loop: ConsumerLoop, plan: BatchPlan) -> None:
        if loop.keep_past is None and any(matches(u) for u in plan.unreadable):
            if waiting is not None:
                waiting.set()
            await release.wait()
        await keep(loop, plan)

    monkeypatch.setattr(ConsumerLoop, "_keep_and_restate", held)
    return release


def at_the_switch(
    monkeypatch: pytest.MonkeyPatch, runtime: Runtime, first: Callable[[], Awaitable[None]]
) -> None:
    """The switch stops the live consumer only once `first` has been awaited."""
    stop_live = runtime.stop_live_consumer

    async def stop() -> None:
        await first()
        await stop_live()

    monkeypatch.setattr(runtime, "stop_live_consumer", stop)


def cut_short(
    runtime: Runtime, then: Callable[[], None] = lambda: None
) -> Callable[[], Awaitable[None]]:
    """For `at_the_switch`: the live consumer's waiting batch cancelled, nothing kept; `then`."""

    async def cancelled() -> None:
        live = runtime._live
        assert live is not None
        live.cancel()
        await asyncio.wait({live})
        then()

    return cancelled
