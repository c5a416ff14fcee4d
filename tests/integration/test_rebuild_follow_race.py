"""On a real PostgreSQL (the consumers stand-ins, no broker): a rebuild's switch stops its
live consumer, which takes a while, and meanwhile another instance's rebuild moves the pointer.
Before, this instance's watch then followed while the switch was stopping the same consumer:
both restarted a live consumer, and one of them, on a generation no longer served, ran on for
ever beside the other. Now the follow waits until the switch (here refused) is over: one live
consumer, on the active generation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from projector.app import create_app
from projector.consumer import ConsumerLoop
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import eventually

STOPPING_S = 3.0  # a live consumer this slow to stop: the watch checks the pointer meanwhile


async def test_a_follow_does_not_race_a_switch_stopping_the_live_consumer(
    tmp_path: Path, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    live: list[ConsumerLoop] = []  # live consumers running now
    stopping = asyncio.Event()

    async def run(self: ConsumerLoop, stop: asyncio.Event) -> None:
        if self.keep_past is not None:  # the rebuild's builder: nothing to read
            await stop.wait()
            return
        live.append(self)
        try:
            await stop.wait()
            stopping.set()
            await asyncio.sleep(STOPPING_S)
        finally:
            live.remove(self)

    monkeypatch.setattr(ConsumerLoop, "run", run)
    monkeypatch.setattr(ConsumerLoop, "caught_up", lambda self: True)
    url = postgres.create_database("rebuild_follow_race")
    settings = ProjectorSettings(store_url=url)
    app = create_app(settings, PostgresGenerations(url), run_consumer=False)
    runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        runtime._start_live()  # the live consumer, as a start with run_consumer does
        await eventually(lambda: len(live) == 1)
        assert runtime.start_rebuild()
        await asyncio.wait_for(stopping.wait(), 30)  # the switch stops the live consumer
        other = PostgresGenerations(url)  # another instance's rebuild switches meanwhile
        elsewhere = other.open_new()
        elsewhere.create()
        other.activate(elsewhere)
        await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=60)
        await eventually(lambda: runtime.store.name == elsewhere.name, timeout_s=30)
        await asyncio.sleep(STOPPING_S + 2)  # whatever was stopping has stopped
        assert [c.store.name for c in live] == [elsewhere.name]
        assert runtime.projector in live
    assert live == []  # and the stop stopped it
    elsewhere.close()
