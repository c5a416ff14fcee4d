"""Records removed while a replay reads them (retention, or `delete_records`) fail the replay,
saying so, instead of being skipped. Found while testing replay's range ends: the consumer
reset an out-of-range position to the partition's end (aiokafka's default), so the replay
ended early with exit 0 and a summary that looked complete, the removed records missing."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import aclosing

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from catalog_stream.ranges import RangeError, read_range
from catalog_stream.replay_bounds import Bound
from tests.integration.test_replay_broker_gone import RECORDS, _fill

pytestmark = pytest.mark.broker


async def test_records_removed_during_a_replay_fail_it(kafka_bootstrap: str) -> None:
    topic = f"test.removed.{uuid.uuid4().hex[:10]}"
    await _fill(kafka_bootstrap, topic)  # 4 MB: several fetches
    read = 0
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)

    async def replay_removing_records() -> None:
        nonlocal read
        records = read_range(kafka_bootstrap, topic, Bound("edge"), Bound("edge"), "test", False)
        async with asyncio.timeout(120), aclosing(records):
            async for _ in records:
                read += 1
                if read == 1:  # all but the last record, while the replay reads them
                    gone = {TopicPartition(topic, 0): RecordsToDelete(RECORDS - 1)}
                    await admin.delete_records(gone)

    await admin.start()
    try:
        with pytest.raises(RangeError) as caught:
            await replay_removing_records()
    finally:
        await admin.close()
    assert read < RECORDS - 1  # the old code: no error, ~1,000 records read of 4,000
    assert f"partition 0 now starts at {RECORDS - 1}" in str(caught.value)
    assert "removed while the replay read them" in str(caught.value)
    assert not caught.value.retryable
