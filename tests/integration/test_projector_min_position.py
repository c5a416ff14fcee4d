"""`min_position` naming a partition the topic does not have is refused at once (422 problem
naming the parameter and why), on every route that takes it. Found by the stop-24 attack: such
a read waited CATALOG_PROJECTOR_READ_YOUR_WRITES_MAX_WAIT_S (5 s) for a position no write can
ever reach, then answered 504 "retry shortly", which a client does forever."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.factories import change
from tests.support import (
    Topics,
    caught_up,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker

ROUTES = (
    "/v1/catalogs",
    "/v1/catalogs/42",
    "/v1/catalogs/42/items",  # answered by hot_reads when valid
    "/v1/catalogs/42/items/i0",  # likewise
)


async def test_min_position_on_a_partition_the_topic_lacks_is_refused_at_once(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"i{n}", price="1") for n in range(12)]
    )
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with running_projector(settings) as projector:
        await caught_up(projector, written)
        for path in ROUTES:
            for position in ("3:0", "999999:12"):  # the topic has partitions 0, 1 and 2
                started = time.monotonic()
                answer = await projector.get(path, params={"min_position": position})
                took = time.monotonic() - started
                assert answer.status_code == 422, (path, position, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                problem = answer.json()
                assert problem["errors"] == [
                    {
                        "field": "min_position",
                        "reason": f"the topic has no partition {position.split(':')[0]}"
                        " (it has 3: 0 to 2)",
                    }
                ], problem
                assert took < 2.5, (path, position, took)  # the old code: 504 after 5 s
            # A partition it has is still waited for, and answered once reached.
            held = await projector.get(path, params={"min_position": "2:0"})
            assert held.status_code in (200, 404), held.text
