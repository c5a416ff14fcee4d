"""A rebuild whose switch fails after the live consumer was stopped for it (the new
generation's indexes, its feed, its activation): the active generation keeps serving, as the
log says, and must keep being UPDATED too. Else the views freeze while reads go on, and every
read-your-writes request (`min_position`) waits into its 504 from then on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from projector.app import create_app
from projector.consumer import ConsumerLoop
from projector.errors import StoreUnavailable
from projector.generations import SqliteGenerations
from projector.rebuilding import Rebuild
from projector.settings import ProjectorSettings
from projector.store import ViewStore


async def test_a_failed_switch_leaves_the_active_generation_a_live_consumer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[ViewStore] = []

    async def run(self: ConsumerLoop, stop: asyncio.Event) -> None:  # no broker here
        ran.append(self.store)
        await stop.wait()

    monkeypatch.setattr(ConsumerLoop, "run", run)
    db = tmp_path / "views.db"
    settings = ProjectorSettings(
        store_url=f"sqlite:///{db}",
    )
    generations = SqliteGenerations(db)
    app = create_app(settings, generations, run_consumer=False)
    runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        active = runtime.store
        runtime._start_live()  # the live consumer, as a start with run_consumer does
        await asyncio.sleep(0)
        assert ran == [active]
        fresh = generations.open_new()
        await asyncio.to_thread(fresh.create)

        def refuse(
            older: ViewStore, older_next: dict[int, int], chunk: int = 0, say_dropped: bool = False
        ) -> int:
            raise StoreUnavailable("disk full")

        monkeypatch.setattr(fresh, "continue_feed_of", refuse)
        builder = ConsumerLoop(settings, fresh, runtime.metrics)
        stop_builder = asyncio.Event()
        done = asyncio.create_task(asyncio.sleep(0))
        await done
        with pytest.raises(StoreUnavailable):
            await Rebuild(runtime).switch_to(active, fresh, builder, stop_builder, done)
        assert runtime.store is active
        # The active generation is read AND updated: a live consumer runs on it again.
        assert runtime._live is not None
        assert not runtime._live.done()
        assert runtime.projector.store is active
        await asyncio.sleep(0)
        assert ran == [active, active]
