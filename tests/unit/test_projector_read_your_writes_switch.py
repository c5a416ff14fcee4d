"""Read-your-writes across a rebuild's switch: a request waiting for a position while the live
consumer is replaced must be answered when the NEW generation's consumer applies it, not run
into 504 because it waits on the old, stopped consumer's positions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from projector.app import create_app
from projector.generations import SqliteGenerations
from projector.settings import ProjectorSettings


async def test_a_waiting_read_is_answered_when_the_new_generation_gets_there(
    tmp_path: Path,
) -> None:
    db = tmp_path / "views.db"
    settings = ProjectorSettings(store_url=f"sqlite:///{db}", read_your_writes_max_wait_s=3)
    app = create_app(settings, SqliteGenerations(db), run_consumer=False)
    runtime = app.state.runtime
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        runtime.projector.applied = {0: 5}
        for path in ("/v1/catalogs/42/items/sku-1", "/v1/catalogs/42/items", "/v1/catalogs"):
            waiting = asyncio.create_task(client.get(f"{path}?min_position=0:7"))
            await asyncio.sleep(0.3)  # the request is waiting for 0:7
            assert not waiting.done()
            # What the switch does: the live consumer is replaced by one on the new generation,
            # which then applies the batch with 0:7 and notifies the readers.
            old = runtime.projector
            runtime.projector = runtime._live_projector(runtime.store)
            async with runtime.progress:
                runtime.projector.applied = {0: 8}
                runtime.progress.notify_all()
            answer = await waiting
            assert answer.status_code != 504, (path, answer.text)
            runtime.projector = old  # for the next route
