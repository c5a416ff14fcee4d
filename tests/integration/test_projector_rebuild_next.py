"""Through the real broker (SQLite and PostgreSQL views): the data team polls GET
/v1/admin/rebuild until it says `done`, then POSTs the next rebuild. Before, that POST answered
409 "a rebuild is already running" for a while after `done`: the rebuild's task went on
retiring the old generation (its readers' grace second, then its deletion once no other
instance used it, up to 30 s). Now the retirement runs beside, and the next rebuild starts; the
old generations are still deleted, and the views are whole after both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from projector.generations import Generations, SqliteGenerations
from projector.generations_postgres import PostgresGenerations
from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.support import (
    ADMIN,
    Topics,
    caught_up,
    eventually,
    generation_schemas,
    produce_events,
    projector_settings,
)

pytestmark = pytest.mark.broker


async def _status(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/v1/admin/rebuild", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


async def _until_not_running(client: httpx.AsyncClient) -> dict[str, Any]:
    """Polled every 10 ms: the next POST follows as soon as GET says it is no longer running."""

    async def ended() -> dict[str, Any] | None:
        status = await _status(client)
        return None if status["state"] == "running" else status

    found: dict[str, Any] = await eventually(ended, timeout_s=60, every_s=0.01)
    return found


async def test_the_next_rebuild_starts_once_get_says_done(
    kafka_bootstrap: str, topics: Topics, generations: Generations, tmp_path: Path
) -> None:
    events = [change(f"i{n}", f"c{n % 2}", price=f"{n}.50") for n in range(20)]
    written = await produce_events(kafka_bootstrap, topics.product, events)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db")
    async with projector_in_process(settings, generations) as (runtime, client):
        await caught_up(client, written, timeout_s=60)
        expected = (await client.get("/v1/catalogs")).json()
        first_old = runtime.store
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        first = await _until_not_running(client)
        assert first["state"] == "done", first
        again = await client.post("/v1/admin/rebuild", headers=ADMIN)
        # (before: 409 "a rebuild is already running", GET having just said `done`)
        assert again.status_code == 202, again.text
        second_generation = again.json()["generation"]
        assert second_generation not in (first["generation"], first_old.name)
        assert (await _status(client))["state"] in ("running", "done")
        second = await _until_not_running(client)
        assert second["state"] == "done", second
        assert second["active_generation"] == second_generation
        await caught_up(client, written, timeout_s=30)
        assert (await client.get("/v1/catalogs")).json() == expected
        # Both retired generations go, the first one's even though the second rebuild ran
        # while it retired.
        # (`retired` lets go of a generation as its drop begins: the drop may still be running)
        left = {second_generation}
        await eventually(
            lambda: not runtime.follower.retired and _generations_left(generations) == left,
            timeout_s=40,
        )


def _generations_left(generations: Generations) -> set[str]:
    if isinstance(generations, PostgresGenerations):
        return generation_schemas(generations.url)
    assert isinstance(generations, SqliteGenerations)
    folder = generations.path.parent
    return {p.name for p in folder.iterdir() if p.name.startswith("views.") and p.suffix == ".db"}


async def test_a_stop_while_one_retires_and_the_next_builds_leaves_only_the_active_one(
    kafka_bootstrap: str, topics: Topics, generations: Generations, tmp_path: Path
) -> None:
    """The projector stops right after the next rebuild started, the old generation still in
    its readers' grace second: both end (the retirement at the stop, the rebuild cancelled),
    and what is left is the generation the first rebuild switched to, the active one."""
    written = await produce_events(kafka_bootstrap, topics.product, [change("i", "c", price="1")])
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db")
    async with projector_in_process(settings, generations) as (runtime, client):
        await caught_up(client, written, timeout_s=60)
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        first = await _until_not_running(client)
        assert first["state"] == "done", first
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        assert runtime.follower.retired  # (still retiring at the stop)
    status = runtime.rebuild_status
    assert status.state == "failed", status
    assert status.error is not None
    assert "cancelled" in status.error, status
    assert _generations_left(generations) == {first["generation"]}
    active = generations.open_active()
    try:
        assert active.name == first["generation"]
        assert sum(active.positions(settings.topic).values()) == written  # (it is whole)
    finally:
        active.close()
