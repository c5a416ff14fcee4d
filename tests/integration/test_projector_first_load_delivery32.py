"""A first catch-up in parts fills the delivery windows from what its parts counted, through the
real broker: the projector does not read the topic's last day a second time to fill them (as
after a restart), which took a core for ~40 s after a 1,000,000-record load and slowed the read
API and a rebuild meanwhile (`make bench`, stop 32)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import change, replace
from tests.projector_harness import projector_in_process
from tests.support import caught_up, make_topics, produce_events, projector_settings

pytestmark = pytest.mark.broker


async def test_a_first_load_in_parts_fills_the_windows_without_reading_the_topic_again(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topics = await make_topics(kafka_bootstrap, 3)
    now = datetime.now(UTC)
    events = [
        replace(
            change(f"i{n}", "c1"),
            received_at=now - timedelta(minutes=n % 50 + 1),
            source_updated_at=now - timedelta(minutes=n % 50 + 1, seconds=40),
        )
        for n in range(60)
    ]
    written = await produce_events(kafka_bootstrap, topics.product, events)
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "v.db", restate=False,
        rebuild_workers=2, first_load_min_records=1,
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="projector")
    async with projector_in_process(settings) as (_, client):
        await caught_up(client, written, timeout_s=120)
        delivery = (await client.get("/v1/catalogs/c1/delivery")).json()
        await asyncio.sleep(2)  # a read of the topic's last day would be done and logged by now
    said = [r.getMessage() for r in caplog.records]
    assert "first catch-up loaded in parts" in said
    assert delivery["received_since_start"] == 60, delivery
    assert delivery["last_hour"]["received"] == 60, delivery
    assert delivery["last_hour"]["delay_p99_s"] == 60  # 40 s late: within a minute
    assert delivery["last_day"]["received"] == 60, delivery
    read_again = [r for r in caplog.records if r.name == "projector.delivery_history"]
    assert not read_again, [r.getMessage() for r in read_again]
