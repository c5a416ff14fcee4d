"""Delivery statistics across a projector restart, through the real broker: the hour and day
windows are filled again from the topic, the since-start counters are not, and nothing the live
consumer reads afterwards is counted twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import change, replace
from tests.support import (
    Topics,
    caught_up,
    eventually,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker


def postbacks(first: int, count: int, now: datetime) -> list[Any]:
    return [
        replace(
            change(f"i{n}", "c1"),
            received_at=now - timedelta(minutes=n % 50 + 1),
            source_updated_at=now - timedelta(minutes=n % 50 + 1, seconds=40),
        )
        for n in range(first, first + count)
    ]


async def _delivery(projector: httpx.AsyncClient) -> dict[str, Any]:
    answer = await projector.get("/v1/catalogs/c1/delivery")
    return answer.json() if answer.status_code == 200 else {}


async def test_a_restart_refills_the_windows_from_the_topic_and_counts_once(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    written = await produce_events(kafka_bootstrap, topics.product, postbacks(0, 30, now))
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db", restate=False)

    async with running_projector(settings) as projector:
        await caught_up(projector, written, timeout_s=60)
        first = await _delivery(projector)
    assert first["received_since_start"] == 30
    assert first["last_hour"]["received"] == 30

    async with running_projector(settings) as projector:  # the same store: a restart

        async def refilled() -> dict[str, Any]:
            found = await _delivery(projector)
            return found if found.get("last_hour", {}).get("received") == 30 else {}

        again = await eventually(refilled, timeout_s=60)
        assert again["received_since_start"] == 0  # Prometheus has the counts from before
        assert again["last_hour"]["delay_p99_s"] == 60  # 40 s late: within a minute
        assert again["last_day"]["received"] == 30
        more = await produce_events(kafka_bootstrap, topics.product, postbacks(30, 5, now))
        await caught_up(projector, written + more, timeout_s=60)
        later = await _delivery(projector)
    assert later["received_since_start"] == 5
    assert later["last_hour"]["received"] == 35
