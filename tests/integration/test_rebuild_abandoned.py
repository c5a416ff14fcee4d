"""On a real PostgreSQL: a rebuild's generation left by a killed process (registered by no live
instance) is dropped by a running instance, not only at a later start; a generation another
live instance is building stays (before: it stayed until some instance started again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector import generation_follower
from projector.app import create_app
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import eventually, generation_schemas


async def test_a_running_instance_drops_a_killed_rebuilds_generation(
    tmp_path: Path, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generation_follower, "ABANDONED_EVERY_S", 1.0, raising=False)
    url = postgres.create_database("rebuild_abandoned")
    app = create_app(ProjectorSettings(store_url=url), PostgresGenerations(url), run_consumer=False)
    async with app.router.lifespan_context(app):
        active = app.state.runtime.store.name
        killed, building = PostgresGenerations(url), PostgresGenerations(url)
        left = killed.open_new()  # its process was killed: it never says so again
        left.create()
        built = building.open_new()
        building.heartbeat([active, built.name])  # a rebuild under way on a live instance
        built.create()
        assert generation_schemas(url) == {active, left.name, built.name}

        def left_gone() -> bool:
            building.heartbeat([active, built.name])  # still building (every second, as live)
            return left.name not in generation_schemas(url)

        await eventually(left_gone, timeout_s=30, every_s=0.5)
        assert generation_schemas(url) == {active, built.name}
        left.close()
        built.close()
