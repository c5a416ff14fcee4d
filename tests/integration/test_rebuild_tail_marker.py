"""A rebuild of a topic whose partitions end in an offset that holds no record ends: a
transactional producer's commit marker (the same holds for a tail record compaction removed,
e.g. a tombstone past `delete.retention.ms` in a quiet partition). The partition's end (its high
watermark) is then one past the last record any consumer is handed, so a builder that waited
for its applied offsets to reach the end waited for ever (the rebuild stayed 'running'); it is
caught up once Kafka's position passed the end with every record handed to it applied."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records
from projector.generations import Generations
from tests.factories import change
from tests.support import Topics, caught_up, projector_settings, rebuilt, running_projector

pytestmark = pytest.mark.broker


async def _produce_in_a_transaction(bootstrap: str, topic: str, items: int) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"tail-{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        for n in range(items):
            records = product_records(change(f"t{n}", "c", minute=n, price="1.50"))
            await producer.send(topic, records.values[0], key=records.key, headers=records.headers)
        await producer.commit_transaction()  # a marker after the records, in every partition
    finally:
        await producer.stop()
    return items


async def test_a_rebuild_of_partitions_ending_in_a_transaction_marker_ends(
    kafka_bootstrap: str, topics: Topics, generations: Generations, tmp_path: Path
) -> None:
    written = await _produce_in_a_transaction(kafka_bootstrap, topics.product, 40)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db")
    async with running_projector(settings, generations) as projector:
        await caught_up(projector, written, timeout_s=60)
        expected = (await projector.get("/v1/catalogs")).json()
        status = await rebuilt(projector, timeout_s=60)
        # offsets, not records: every partition the transaction wrote holds its marker too
        assert status["applied"] == status["target"] > written
        assert (await projector.get("/v1/catalogs")).json() == expected
