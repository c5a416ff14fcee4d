"""Through the real broker, SQLite views: the projector stopping right after a rebuild switched
the views (while the old generation is retired: its readers' grace second, then its deletion)
cancels a rebuild that has succeeded. Its failure path took that cancellation for a failed
rebuild: status `failed`, "cancelled: the projector stopped before the rebuild ended", and it
discarded the new generation, which is the active one by then (not deleted, as the pointer names
it, but closed under the live consumer). A switch that happened stays `done`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.projector_harness import projector_in_process
from tests.support import ADMIN, Topics, eventually, projector_settings

pytestmark = pytest.mark.broker


async def test_a_stop_right_after_the_switch_keeps_the_rebuild_done(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    async with projector_in_process(settings) as (runtime, client):
        old = runtime.store
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        status = runtime.rebuild_status
        await eventually(lambda: status.state != "running", timeout_s=60, every_s=0.01)
        assert status.state == "done", status
        fresh = runtime.store
        assert fresh is not old
        assert fresh.name == status.generation
        assert old in runtime.follower.retired  # still retiring: the rebuild task runs
        finished_at = status.finished_at
    # The lifespan's end stopped the runtime, which cancelled the rebuild while it retired.
    assert status.state == "done", status
    assert status.error is None, status
    assert status.finished_at == finished_at
    left = sorted(p.name for p in tmp_path.iterdir())  # noqa: ASYNC240 (a test's own directory)
    assert fresh.name in left, left
    assert old.name not in left, left
    assert fresh.positions(settings.topic) is not None  # (opens it again: the file is whole)
