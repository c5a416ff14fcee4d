"""On a real PostgreSQL (no broker): another instance's rebuild switches while this instance
starts, after it opened the active generation and before it said it uses it. The switching
instance then takes the old generation as unused and drops it. Before, this instance went on
starting on it: it created it again, empty, served it and left it behind. Now an instance says
which generation it uses before anything else, and opens the active one if it moved."""

from __future__ import annotations

from projector.app import create_app
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import generation_schemas


async def test_an_instance_starting_during_a_switch_opens_the_new_generation(
    postgres: LocalPostgres,
) -> None:
    url = postgres.create_database("rebuild_instance_starting")
    other = PostgresGenerations(url)  # the instance that rebuilds
    old = other.open_active()
    old.create()
    app = create_app(ProjectorSettings(store_url=url), PostgresGenerations(url), False)
    runtime = app.state.runtime
    assert runtime.store.name == old.name  # opened, not yet started
    fresh = other.open_new()
    fresh.create()
    other.activate(fresh)
    assert not other.in_use_elsewhere(old.name)  # the starting instance has not said so yet
    other.discard(old)  # as its switch does, once no other instance uses the old generation
    async with app.router.lifespan_context(app):
        assert runtime.store.name == fresh.name  # readers get the active views at once
        assert generation_schemas(url) == {fresh.name}  # the old one is not made again
    fresh.close()
