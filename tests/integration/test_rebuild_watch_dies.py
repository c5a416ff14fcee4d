"""On a real PostgreSQL (no broker): the watch (which says every second which generations this
instance uses, and follows other instances' switches) dies of a defect. Before, nothing noticed:
the instance stayed ready and healthy while it no longer followed the pointer nor said what it
uses (so another instance's sweep or switch could drop its generation under its readers). Now
it fails as a dead live consumer does: not healthy, not ready, and the process is ended for a
supervisor to restart."""

from __future__ import annotations

import httpx
import pytest

from projector import generation_follower
from projector.app import create_app
from projector.generation_follower import GenerationFollower
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import eventually


async def test_a_watch_that_dies_makes_the_instance_fail_visibly(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    def defect(self: GenerationFollower) -> bool:
        raise RuntimeError("a defect in the watch")

    monkeypatch.setattr(generation_follower, "ABANDONED_EVERY_S", 0.0)  # a sweep due at once
    monkeypatch.setattr(GenerationFollower, "_is_sweeping", defect)
    url = postgres.create_database("rebuild_watch_dies")
    ended: list[bool] = []
    settings, generations = ProjectorSettings(store_url=url), PostgresGenerations(url)
    app = create_app(settings, generations, False, lambda: ended.append(True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://projector") as client:

            async def failed() -> bool:
                return (await client.get("/healthz")).status_code == 503

            await eventually(failed, timeout_s=30)
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert "a defect in the watch" in ready.json()["error"]
    assert ended == [True]
