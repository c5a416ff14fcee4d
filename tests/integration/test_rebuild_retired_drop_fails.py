"""On a real PostgreSQL (the consumers stand-ins, no broker): after a switch, the retired
generation's DROP fails (here: a reader still holds it, and the database's `lock_timeout` ends
the DROP's wait). Before, that failure reached the rebuild's own failure path: it reported
`failed` after the switch and dropped the new generation, the active one, under every
instance. Now the switch stands and the retired generation is left to a later sweep."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from projector.app import create_app
from projector.consumer import ConsumerLoop
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import active_generation, eventually, generation_schemas


async def test_a_retired_generation_that_cannot_be_dropped_leaves_the_switch_done(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run(self: ConsumerLoop, stop: asyncio.Event) -> None:
        await stop.wait()

    monkeypatch.setattr(ConsumerLoop, "run", run)
    monkeypatch.setattr(ConsumerLoop, "caught_up", lambda self: True)
    url = postgres.create_database("rebuild_retired_drop_fails")
    with psycopg.connect(url, autocommit=True) as admin:  # an operator's setting
        admin.execute("ALTER DATABASE rebuild_retired_drop_fails SET lock_timeout = '1s'")
    app = create_app(ProjectorSettings(store_url=url), PostgresGenerations(url), False)
    runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        runtime._start_live()
        old = runtime.store.name
        assert old == "views"
        with psycopg.connect(url) as reader:  # a long read of the old generation
            reader.execute("SELECT count(*) FROM views.items")
            assert runtime.start_rebuild()
            await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=60)
            await asyncio.sleep(5)  # the retired generation's DROP was tried meanwhile
        assert runtime.rebuild_status.state == "done"
        active = active_generation(url)
        assert active == runtime.store.name != old
        assert active in generation_schemas(url)
