"""The benchmark's Kafka Streams peer (bench/kstreams/) reads only committed records, as every
consumer of ours does (KafkaConnection.consumer_options): at Kafka Streams' at-least-once default
its consumers read uncommitted, and an aborted transaction's records went into its table. Fails on
the old peer (its table held the aborted transaction's 2 keys too: 8, not 6)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from bench import kstreams_peer

from catalog_contract.writing import product_records
from tests.factories import change
from tests.support import make_topics, produce_events

pytestmark = pytest.mark.broker


async def _aborted(bootstrap: str, topic: str, items: list[str]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"peer-tx-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        for item in items:
            records = product_records(change(item))
            await producer.send_and_wait(
                topic, records.values[0], key=records.key, headers=records.headers
            )
        await producer.abort_transaction()
    finally:
        await producer.stop()


async def test_the_peer_leaves_an_aborted_transaction_out(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    await produce_events(kafka_bootstrap, topics.product, [change(f"a{n}") for n in range(3)])
    await _aborted(kafka_bootstrap, topics.product, ["gone0", "gone1"])
    # (records after it: the peer's "caught up" waits for the record before the end)
    await produce_events(kafka_bootstrap, topics.product, [change(f"b{n}") for n in range(3)])
    _, said = await asyncio.to_thread(
        kstreams_peer.report, kafka_bootstrap, topics.product, tmp_path / "peer.log"
    )
    assert (said["records"], said["keys"]) == (6, 6), said
