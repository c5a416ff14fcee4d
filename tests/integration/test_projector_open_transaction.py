"""Another producer's transaction left open (hanging) holds the projector at the partition's last
stable offset: read_committed hands out nothing past it until the transaction ends. That was
silent: the lag grew as if the projector were slow. Now the metric
projector_records_past_stable_offset and /readyz's `past_last_stable_offset` say how many
records wait past it, and go back to 0 once the transaction ends. Fails on the code before (no
such metric, no such field). Readiness judges the lag against what can be read: /readyz
answered 503 while the transaction held records past `ready_max_lag` (every instance at once:
none can read them), and says 200 now."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records
from projector.generations import SqliteGenerations
from tests.factories import change
from tests.support import (
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker


def _past_stable(metrics: str) -> int:
    found = re.findall(r'^projector_records_past_stable_offset\{partition="0"\} (\S+)$', metrics,
                       re.MULTILINE)  # fmt: skip
    return int(float(found[0])) if found else -1


async def test_an_open_transaction_is_said_in_the_metrics_and_readiness(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db", ready_max_lag=0)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"test-open-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    try:
        async with running_projector(settings, SqliteGenerations(tmp_path / "views.db")) as views:

            async def said(expected: int) -> bool:
                metrics = (await views.get("/metrics")).text
                ready = (await views.get("/readyz")).json()
                return (
                    _past_stable(metrics) == expected
                    and ready.get("past_last_stable_offset", 0) == expected
                )

            await produce_events(kafka_bootstrap, topics.product, [change("before")])
            await eventually(lambda: said(0), timeout_s=60)
            await producer.begin_transaction()
            records = product_records(change("open", price="3.00"))
            await producer.send_and_wait(
                topics.product, records.values[0], key=records.key, headers=records.headers
            )
            await produce_events(kafka_bootstrap, topics.product, [change("after")])
            # offsets: 0 before, 1 the open transaction's record, 2 after; stable offset 1
            await eventually(lambda: said(2), timeout_s=30)
            # Ready all the same (no instance can read past the stable offset: 503 took every
            # one out at once), and the lag still counts what waits.
            ready = await views.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "lag": 2, "past_last_stable_offset": 2}
            await producer.commit_transaction()
            await eventually(lambda: said(0), timeout_s=30)

            async def serves_ready() -> bool:  # (past the commit's marker too)
                return (await views.get("/readyz")).status_code == 200

            await eventually(serves_ready, timeout_s=30)
    finally:
        await producer.stop()
