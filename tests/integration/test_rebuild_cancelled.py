"""Through the real broker, SQLite views: a rebuild still running when the projector stops is
cancelled (asyncio.CancelledError, which is not an Exception). Before, its status stayed
`running` for good, `finished_at` null and no reason: the failure path caught only Exception,
and a rebuild cancelled before its first step ran none of its code at all. Now it ends
`failed`, with when and why, and its half-built generation is deleted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.projector_harness import projector_in_process
from tests.support import ADMIN, Topics, eventually, projector_settings

pytestmark = pytest.mark.broker


async def test_a_rebuild_cancelled_at_shutdown_ends_failed(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    async with projector_in_process(settings) as (runtime, client):
        started = time.time()
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        status = runtime.rebuild_status
        await eventually(lambda: status.generation != runtime.store.name, timeout_s=10)
        fresh = status.generation
        assert status.state == "running", status
    # The lifespan's end stopped the runtime, which cancelled the rebuild.
    assert status.state == "failed", status
    assert "cancelled" in (status.error or ""), status
    assert status.finished_at is not None, status
    assert started <= status.finished_at <= time.time(), status
    left = [p.name for p in tmp_path.iterdir()]  # noqa: ASYNC240 (a test's own directory)
    assert fresh not in left, left


async def test_a_rebuild_cancelled_before_its_first_step_ends_failed(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    async with projector_in_process(settings) as (runtime, _):
        assert runtime.start_rebuild()
        status = runtime.rebuild_status
        assert status.state == "running"
    assert status.state == "failed", status
    assert "cancelled" in (status.error or ""), status
    assert status.finished_at is not None, status
