"""A stop that lands while a rebuild's switch waits for the live consumer to end (its last
batch, its last mirror to Kafka: slow here) stops the switch. Before, stop_live_consumer
swallowed the caller's own cancellation with the consumer's: the switch carried on as if the
consumer had merely ended, moved the pointer to the new generation and started a live consumer
there, in the middle of the stop. Fails on the code before (the switch completes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest

from projector.app import create_app
from projector.consumer import ConsumerLoop
from projector.generations import SqliteGenerations
from projector.rebuilding import Rebuild
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.store import ViewStore


@pytest.mark.parametrize("stopped_by", ["a cancellation", "Runtime.stop"])
async def test_a_stop_while_the_switch_waits_for_the_live_consumer_stops_the_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stopped_by: str
) -> None:
    ran: list[ViewStore] = []
    ending = asyncio.Event()

    async def run(self: ConsumerLoop, stop: asyncio.Event) -> None:  # no broker here
        ran.append(self.store)
        await stop.wait()
        ending.set()
        await asyncio.Event().wait()  # its end takes long (a stuck batch: cancelled at 60 s)

    monkeypatch.setattr(ConsumerLoop, "run", run)
    db = tmp_path / "views.db"
    settings = ProjectorSettings(store_url=f"sqlite:///{db}")
    generations = SqliteGenerations(db)
    app = create_app(settings, generations, run_consumer=False)
    runtime: Runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        active = runtime.store
        runtime._start_live()  # the live consumer, as a start with run_consumer does
        fresh = generations.open_new()
        await asyncio.to_thread(fresh.create)
        builder = ConsumerLoop(settings, fresh, runtime.metrics)
        done = asyncio.create_task(asyncio.sleep(0))
        await done
        rebuild = Rebuild(runtime)
        switching = asyncio.create_task(
            rebuild.switch_to(active, fresh, builder, asyncio.Event(), done)
        )
        await asyncio.wait_for(ending.wait(), 5)  # the switch waits for the consumer's end
        if stopped_by == "Runtime.stop":
            runtime._rebuild = cast("asyncio.Task[None]", switching)  # (as start_rebuild does)
        else:
            switching.cancel()
            await asyncio.wait({switching}, timeout=5)
    # (the lifespan's end: Runtime.stop)
    assert switching.cancelled()  # (before: it returned, switched)
    assert rebuild.status.state == "running"  # (Rebuild.build says it failed: not called here)
    assert runtime.store is active
    assert not generations.pointer.exists()  # never moved (written at the first switch)
    assert ran == [active]  # no live consumer started on the new generation
    assert not runtime.moving
    fresh.close()
