"""`catalog-stream replay --from` a position that holds no committed record says what is there:
a record of an aborted transaction, or a transaction marker (a commit's or an abort's), not
"removed by compaction", which it said of all three (compaction's own case keeps its words:
test_replay.py). And a partition that --from does not name is read from its start, whatever
that start holds: its first offset was checked as if named, so a partition starting with an
aborted transaction failed a replay "from 1:0" with "position 0:0 was removed by compaction".
Both tests fail on the code before."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records
from tests.factories import change
from tests.support import make_topics, produce_events, run_cli

pytestmark = pytest.mark.broker


async def _transaction(bootstrap: str, topic: str, items: list[str], commit: bool,
                       partition: int = 0) -> None:  # fmt: skip
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"replay-tx-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        for item in items:
            records = product_records(change(item))
            await producer.send_and_wait(
                topic, records.values[0], key=records.key, headers=records.headers,
                partition=partition,
            )  # fmt: skip
        await (producer.commit_transaction() if commit else producer.abort_transaction())
    finally:
        await producer.stop()


async def _replay(bootstrap: str, topic: str, start: str) -> tuple[int, list[int], str]:
    code, out, err = await run_cli(
        "replay", "--bootstrap-servers", bootstrap, "--topic", topic, "--from", start
    )
    return code, [json.loads(line)["offset"] for line in out.splitlines()], err


async def test_a_start_on_an_aborted_record_or_a_marker_says_so(kafka_bootstrap: str) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    await _transaction(kafka_bootstrap, topics.product, ["a0", "a1", "a2"], commit=False)
    await _transaction(kafka_bootstrap, topics.product, ["c0", "c1", "c2"], commit=True)
    await produce_events(kafka_bootstrap, topics.product, [change("plain")])
    # 0-2 aborted, 3 the abort marker, 4-6 committed, 7 the commit marker, 8 plain
    said = {
        "0:1": "position 0:1 holds a record of an aborted transaction (never committed, read by "
        "no consumer of ours); the next committed record there is 0:4",
        "0:3": "position 0:3 is a transaction marker (a transaction's abort), not a record; the "
        "next committed record there is 0:4",
        "0:7": "position 0:7 is a transaction marker (a transaction's commit), not a record; the "
        "next committed record there is 0:8",
    }
    for start, expected in said.items():
        code, offsets, err = await _replay(kafka_bootstrap, topics.product, start)
        assert code == 1, (start, err)
        assert offsets == [], start
        assert expected in err, (start, err)
        assert "compaction" not in err, (start, err)
    code, offsets, err = await _replay(kafka_bootstrap, topics.product, "0:4")
    assert (code, offsets) == (0, [4, 5, 6, 8]), err


async def test_a_partition_not_named_is_read_from_its_start(kafka_bootstrap: str) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=2)
    await _transaction(kafka_bootstrap, topics.product, ["a0"], commit=False, partition=0)
    await _transaction(kafka_bootstrap, topics.product, ["c0"], commit=True, partition=0)
    await _transaction(kafka_bootstrap, topics.product, ["c1"], commit=True, partition=1)
    # partition 0: 0 aborted, 1 its marker, 2 committed, 3 its marker; partition 1: 0, 1 marker
    code, offsets, err = await _replay(kafka_bootstrap, topics.product, "1:0")
    assert code == 0, err
    assert sorted(offsets) == [0, 2], err
