"""Through the real broker and a real PostgreSQL: a switch that fails (here: its builder takes
no batch, so it never reaches the live consumers' positions) gives the views back to the live
consumer. Before, the live consumer restarted while the builder still ran (it was told to stop
only afterwards, and never awaited): past the old positions, it could write the dead letters
and restatements that the restarted live consumer then writes again. Now the builder has ended
before the live consumer restarts."""

from __future__ import annotations

import asyncio

import pytest

from projector import rebuild_switch
from projector.consumer import ConsumerLoop
from tests.stalled_builder import mend, stall_the_first_builder
from tests.support import ADMIN, SharePostgres, active_generation, eventually, shows_wave

pytestmark = pytest.mark.broker
ITEMS = 10


async def test_a_failed_switch_stops_its_builder_before_the_live_consumer_restarts(
    share_postgres: SharePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    monkeypatch.setattr(rebuild_switch, "REACH_TIMEOUT_S", 3.0)
    events: list[tuple[str, bool]] = []  # (start | end, whether the rebuild's consumer)
    run = ConsumerLoop.run

    async def recorded(self: ConsumerLoop, stop: asyncio.Event) -> None:
        building = "-rebuild-" in self.settings.group_id
        events.append(("start", building))
        try:
            await run(self, stop)
        finally:
            events.append(("end", building))

    monkeypatch.setattr(ConsumerLoop, "run", recorded)
    async with shared.instances() as [(runtime, client)]:
        old = runtime.store.name
        stall_the_first_builder(url, monkeypatch)
        assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
        await eventually(lambda: runtime.rebuild_status.state != "running", timeout_s=120)
        assert runtime.rebuild_status.state == "failed", runtime.rebuild_status
        assert "reach" in (runtime.rebuild_status.error or ""), runtime.rebuild_status
        await eventually(lambda: ("end", True) in events, timeout_s=30)
        mend(url)
        builder_ended = events.index(("end", True))
        live_restarted = max(i for i, e in enumerate(events) if e == ("start", False))
        assert builder_ended < live_restarted, events
        assert active_generation(url) == old
        await shared.wave(2, ITEMS)
        await shows_wave(client, 2, ITEMS)
