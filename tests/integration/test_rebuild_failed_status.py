"""On a real PostgreSQL (no broker: no builder gets that far): a rebuild that fails in a view
store outage says when it ended, as a finished one does. Before, its status was `failed` with
`finished_at: null` (the failure path set only the state and the error); and a rebuild started
while the store was already down stayed `running` for ever (its first read of the store, the
active generation's positions, failed before the failure path)."""

from __future__ import annotations

import time

from catalog_stream.ports import free_port
from projector.app import create_app
from projector.generations_postgres import PostgresGenerations
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres, own_postgres
from tests.support import eventually


async def _failed_rebuild(runtime: Runtime) -> None:
    started = time.time()
    assert runtime.start_rebuild()
    await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=30)
    status = runtime.rebuild_status
    assert status.state == "failed", status
    assert status.error
    assert status.finished_at is not None, status
    assert status.started_at is not None
    assert started <= status.started_at <= status.finished_at <= time.time(), status


async def test_a_rebuild_failing_in_an_outage_of_the_registry_says_when_it_ended(
    postgres: LocalPostgres,
) -> None:
    """The store answers its first read; the generations' registry (the heartbeat that says the
    new generation is in use) does not: the rebuild fails inside its failure path."""
    url = postgres.create_database("rebuild_failed_status")
    generations = PostgresGenerations(url)
    app = create_app(ProjectorSettings(store_url=url), generations, False)
    async with app.router.lifespan_context(app):
        generations.url = f"postgresql://127.0.0.1:{free_port()}/nothing"  # the outage
        try:
            await _failed_rebuild(app.state.runtime)
        finally:
            generations.url = url


async def test_a_rebuild_started_while_the_store_is_down_fails_and_says_when() -> None:
    with own_postgres() as server:  # a server of its own: this test stops it
        url = server.create_database("rebuild_failed_down")
        app = create_app(ProjectorSettings(store_url=url), PostgresGenerations(url), False)
        async with app.router.lifespan_context(app):
            server.stop()
            await _failed_rebuild(app.state.runtime)
