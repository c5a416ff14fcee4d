"""/readyz only reads: after a merged first catch-up in parts it answers from that load until the
live consumer knows the topic's ends, and it is the live consumer that then lets it go, as it
first knows them (LiveConsumer._start_live). Before, the GET handler cleared it: with no probe
asking, the merged load was held on to for good (fails on the code before)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.integration.test_projector_first_load_attack31 import _topic
from tests.projector_harness import projector_in_process
from tests.support import eventually, projector_settings

pytestmark = pytest.mark.broker


async def test_the_live_consumer_lets_the_merged_load_go_with_no_probe_asking(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="projector.rebuild_split")
    topics, _ = await _topic(kafka_bootstrap)
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "views.db", rebuild_workers=2,
        first_load_min_records=1,
    )  # fmt: skip
    async with projector_in_process(settings) as (runtime, client):
        await eventually(lambda: runtime._live is not None, timeout_s=120)
        merged = [r for r in caplog.records if r.getMessage() == "first catch-up loaded in parts"]
        assert len(merged) == 1  # (then /readyz answers from it until the ends are known)
        await eventually(runtime.projector.ends_known, timeout_s=30, every_s=0.01)
        assert runtime.first_loaded is None  # (before: the merged load, until a GET came)
        answer = await client.get("/readyz")  # the live consumer's answer
        assert (answer.status_code, answer.json()["status"]) == (200, "ready"), answer.text
