"""attack33 on `catalog-stream replay --from TIME` (replay_bounds.check_order): a time past this
machine's clock was refused as "in the future" (exit 2) before Kafka was asked, though records
are there at or after it: their timestamps are the producer's clock (CreateTime), which may run
ahead of the one replaying. A data team resuming from the last timestamp_ms a replay printed got
exit 2 and nothing. Real broker, the command as a user runs it.

Failed before: exit 2 "--from ... is in the future", no record. Held: a --from time no record
is at or after, past the clock, is still refused (test_attack33_replay_bounds)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records
from tests.factories import change
from tests.support import make_topics, run_cli

pytestmark = pytest.mark.broker


async def test_a_from_time_past_the_clock_with_records_at_it_is_replayed(
    kafka_bootstrap: str,
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    ahead_ms = int(time.time() * 1000) + 10 * 60_000  # a producer whose clock is 10 min ahead
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(2):
            records = product_records(change(f"i{n}"))
            for value in records.values:
                await producer.send_and_wait(
                    topics.product,
                    value,
                    key=records.key,
                    headers=records.headers,
                    timestamp_ms=ahead_ms,
                )
    finally:
        await producer.stop()
    start = datetime.fromtimestamp((ahead_ms - 60_000) / 1000, UTC)
    code, out, err = await run_cli(
        "replay",
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        topics.product,
        "--from",
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert "Traceback" not in err, err
    assert (code, [json.loads(line)["offset"] for line in out.splitlines()]) == (0, [0, 1]), err
