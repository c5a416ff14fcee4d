"""A replay whose range ends in offsets that hold no record ends, promptly, with what the range
does hold: the last offsets before its end removed by compaction, or taken by transaction
markers (a transactional producer's commit or abort). No record at those offsets ever arrives,
so a replay that waited for one would stall until its 60 s stall clock called the broker gone
(exit 75). Each replay here must end well inside that (run_cli's time limit)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract import topics as contract_topics
from catalog_contract.writing import product_records
from catalog_stream.topic_admin import ensure_all
from tests.factories import change
from tests.support import eventually, read_topic, run_cli

pytestmark = pytest.mark.broker

WELL_INSIDE_STALL_S = 40  # the replay's stall clock is 60 s


async def _topic(bootstrap: str, configs: dict[str, str]) -> str:
    name = f"test.tail.{uuid.uuid4().hex[:10]}"
    await ensure_all(bootstrap, [contract_topics.TopicSpec(name, 1, 1, configs)])
    return name


async def _replay(bootstrap: str, topic: str, *bounds: str) -> list[int]:
    code, out, err = await run_cli(
        "replay", "--bootstrap-servers", bootstrap, "--topic", topic, *bounds,
        timeout_s=WELL_INSIDE_STALL_S,
    )  # fmt: skip
    assert code == 0, err
    return [json.loads(line)["offset"] for line in out.splitlines()]


async def test_a_range_ending_in_transaction_markers_ends(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap, {"cleanup.policy": "delete"})
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"tail-{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        for n, commit in enumerate((True, False)):  # a commit marker, then an abort marker
            await producer.begin_transaction()
            for item in range(3):
                records = product_records(change(f"t{n}-{item}", price="1"))
                await producer.send(
                    topic, records.values[0], key=records.key, headers=records.headers
                )
            await (producer.commit_transaction() if commit else producer.abort_transaction())
    finally:
        await producer.stop()
    # offsets 0-2 committed, 3 its commit marker, 4-6 aborted, 7 the abort marker; end 8
    committed = await _replay(kafka_bootstrap, topic, "--until", "0:4")
    assert committed == [0, 1, 2]
    # To the topic's end, the aborted records and the abort marker last: none is read (every
    # consumer reads committed records only, KafkaConnection.consumer_options).
    assert await _replay(kafka_bootstrap, topic) == [0, 1, 2]


async def test_a_range_whose_last_offsets_compaction_removed_ends(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap, {
        "cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.001",
        "min.compaction.lag.ms": "0", "delete.retention.ms": "0",
    })  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()

    async def send(item: str) -> None:
        records = product_records(change(item, catalog="1", price="1"))
        await producer.send_and_wait(
            topic, records.values[0], key=records.key, headers=records.headers
        )

    async def superseded_offsets_gone() -> bool:
        await asyncio.sleep(0.2)
        await send("filler")  # appending rolls the active segment (segment.ms), to be cleaned
        offsets = {record.offset for record in await read_topic(kafka_bootstrap, topic)}
        return not offsets & {1, 2, 3}

    try:
        # offsets: 0 a, 1-3 b (superseded by 5), 4 c, 5 b, then fillers
        for item in ("a", "b", "b", "b", "c", "b"):
            await send(item)
        await eventually(superseded_offsets_gone, timeout_s=120, every_s=1)
    finally:
        await producer.stop()
    # [0, 4): offset 0, then the gap 1-3 where compaction removed every record up to the end.
    assert await _replay(kafka_bootstrap, topic, "--until", "0:4") == [0]
    assert await _replay(kafka_bootstrap, topic, "--until", "0:5") == [0, 4]
