"""attack32 on `catalog-stream replay --from` a position holding no committed record
(catalog_stream.range_gaps). Real broker, the command as a user runs it.

The README: "a start position holding no committed record exits 1 and says what is there".
The check ran only when a later committed record came: a start on an aborted record (or a
marker) with no committed record after it in the range (a partition whose last transaction
was aborted; a topic holding only aborted records) exited 0 with nothing, saying nothing.

Held (what was tried): hostile positions (negative, past int64, not digits, a partition the
topic lacks) exit 2 or 1 with one line, no traceback; a start exactly at the end reads
nothing, exit 0."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records
from tests.factories import change
from tests.support import make_topics, run_cli

pytestmark = pytest.mark.broker


async def _transaction(bootstrap: str, topic: str, items: list[str], commit: bool) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"attack32-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        for item in items:
            records = product_records(change(item))
            await producer.send_and_wait(
                topic, records.values[0], key=records.key, headers=records.headers, partition=0
            )
        await (producer.commit_transaction() if commit else producer.abort_transaction())
    finally:
        await producer.stop()


async def _replay(bootstrap: str, topic: str, *bounds: str) -> tuple[int, list[int], str]:
    code, out, err = await run_cli(
        "replay", "--bootstrap-servers", bootstrap, "--topic", topic, *bounds
    )
    return code, [json.loads(line)["offset"] for line in out.splitlines()], err


async def test_a_start_on_an_aborted_tail_says_so(kafka_bootstrap: str) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    await _transaction(kafka_bootstrap, topics.product, ["c0"], commit=True)
    await _transaction(kafka_bootstrap, topics.product, ["a0", "a1", "a2"], commit=False)
    # 0 committed, 1 its commit marker, 2-4 aborted, 5 the abort marker; end 6
    said = {
        "0:3": "position 0:3 holds a record of an aborted transaction",
        "0:5": "position 0:5 is a transaction marker (a transaction's abort), not a record",
        "0:1": "position 0:1 is a transaction marker (a transaction's commit), not a record",
    }
    for start, expected in said.items():
        code, offsets, err = await _replay(kafka_bootstrap, topics.product, "--from", start)
        assert (code, offsets) == (1, []), (start, err)
        assert expected in err, (start, err)
        assert "Traceback" not in err, err
    code, offsets, err = await _replay(kafka_bootstrap, topics.product, "--from", "0:0")
    assert (code, offsets) == (0, [0]), err
    code, offsets, err = await _replay(kafka_bootstrap, topics.product, "--from", "0:6")
    assert (code, offsets) == (0, []), err  # the end: nothing to read, nothing held there


async def test_a_topic_of_aborted_records_only(kafka_bootstrap: str) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    await _transaction(kafka_bootstrap, topics.product, ["a0", "a1"], commit=False)
    # 0-1 aborted, 2 the abort marker
    code, offsets, err = await _replay(kafka_bootstrap, topics.product, "--from", "0:0")
    assert (code, offsets) == (1, []), err
    assert "position 0:0 holds a record of an aborted transaction" in err, err
    code, offsets, err = await _replay(kafka_bootstrap, topics.product)  # from earliest
    assert (code, offsets) == (0, []), err


async def test_hostile_start_positions(kafka_bootstrap: str) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    await _transaction(kafka_bootstrap, topics.product, ["c0"], commit=True)
    for start in ("0:-1", "-1:0", "0:99999999999999999999", "0:1e3", "0:\u0663", "0:", "nan"):
        code, offsets, err = await _replay(kafka_bootstrap, topics.product, "--from", start)
        assert (code, offsets) == (2, []), (start, err)
        assert "Traceback" not in err, (start, err)
    code, offsets, err = await _replay(kafka_bootstrap, topics.product, "--from", "7:0")
    assert (code, offsets) == (1, []), err
    assert "no partition [7]" in err, err
