"""`catalog-stream replay` and `topics describe` against the real broker, run as a user would."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from catalog_contract import codec, headers
from catalog_contract import topics as contract_topics
from catalog_contract.events import ChangeType
from catalog_contract.keys import product_key
from catalog_stream.topic_admin import ensure_all
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import (
    Topics,
    dump,
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    run_cli,
    running_projector,
)

pytestmark = pytest.mark.broker
T0 = datetime(2026, 11, 1, tzinfo=UTC)


async def _produce_in_hours(bootstrap: str, topic: str) -> dict[int, list[str]]:
    """Hour h gets events for items h-0..h-9; returns the event ids written in each hour."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    ids: dict[int, list[str]] = {}
    try:
        for hour in range(3):
            for n in range(10):
                event = change(f"h{hour}-{n}", catalog=f"c{n % 2}", minute=hour * 60 + n, price="2")
                stamp = int((T0 + timedelta(hours=hour, minutes=n)).timestamp() * 1000)
                await producer.send_and_wait(
                    topic, codec.encode(event), key=product_key(event.catalog_id, event.catalog_item_id),
                    timestamp_ms=stamp, headers=headers.for_change(event),
                )  # fmt: skip
                ids.setdefault(hour, []).append(str(event.event_id))
    finally:
        await producer.stop()
    return ids


async def test_replaying_a_time_window_gives_exactly_its_events_in_partition_order(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    ids = await _produce_in_hours(kafka_bootstrap, topics.product)
    window = [
        "--from",
        (T0 + timedelta(hours=1)).isoformat(),
        "--until",
        (T0 + timedelta(hours=2)).isoformat(),
    ]
    out_jsonl, out_avro = tmp_path / "w.jsonl", tmp_path / "w.avro"
    base = ["replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product, *window]
    code, _, summary = await run_cli(*base, "--output", str(out_jsonl))
    assert code == 0, summary
    rows = [json.loads(line) for line in out_jsonl.read_text().splitlines()]
    assert sorted(r["event"]["event_id"] for r in rows) == sorted(ids[1])
    for partition in {r["partition"] for r in rows}:
        offsets = [r["offset"] for r in rows if r["partition"] == partition]
        assert offsets == sorted(offsets)
    assert "events 10, tombstones 0" in summary

    code, _, _ = await run_cli(*base, "--to", "avro", "--output", str(out_avro))
    assert code == 0
    with out_avro.open("rb") as file:
        from_avro: list[Any] = list(fastavro.reader(file))
    # The same records (how partitions interleave may differ from one run to the next).
    assert sorted(
        (r["partition"], r["offset"], r["key"], str(r["event"]["event_id"])) for r in from_avro
    ) == sorted((r["partition"], r["offset"], r["key"], r["event"]["event_id"]) for r in rows)
    assert str(from_avro[0]["event"]["current_price"]) == "2.0000"

    code, _, _ = await run_cli(*base, "--catalog", "c1", "--output", str(out_jsonl))
    assert code == 0
    keys = [json.loads(line)["key"] for line in out_jsonl.read_text().splitlines()]
    assert len(keys) == 5
    assert all(k.startswith("c1:") for k in keys)


def _caught_up(store: SqliteStore, topic: str, total: int) -> Callable[[], bool]:
    return lambda: sum(store.positions(topic).values()) == total


async def test_replaying_into_a_new_topic_reproduces_the_views(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    events = [change(f"i{n % 30}", f"c{n % 3}", minute=n, price=f"{n}.50") for n in range(200)]
    events += [change("i3", "c0", minute=500, kind=ChangeType.REMOVED)]
    total = await produce_events(kafka_bootstrap, topics.product, events)
    copy = await make_topics(kafka_bootstrap)
    code, _, summary = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product,
        "--to", "topic", "--target-topic", copy.product,
    )  # fmt: skip
    assert code == 0, summary
    assert "tombstones 1" in summary
    views = []
    for source, name in ((topics, "original"), (copy, "copy")):
        store = SqliteStore(tmp_path / f"{name}.db")
        async with running_projector(
            projector_settings(kafka_bootstrap, source, store.path), store
        ):
            await eventually(_caught_up(store, source.product, total))
            views.append(dump(store))
        store.close()
    assert views[0] == views[1]
    assert len(views[0]["items"]) == 29


async def test_replay_refuses_bad_bounds_and_unknown_topics(
    kafka_bootstrap: str, topics: Topics
) -> None:
    base = ["replay", "--bootstrap-servers", kafka_bootstrap]
    code, _, err = await run_cli(*base, "--topic", topics.product, "--from", "yesterday")
    assert (code, "is not 'earliest', an ISO-8601 time, or partition:offset" in err) == (2, True)
    code, _, err = await run_cli(*base, "--topic", topics.product, "--until", "9:5")
    assert (code, "no partition [9]" in err) == (1, True)
    code, _, err = await run_cli(*base, "--topic", "no.such.topic")
    assert (code, "does not exist" in err) == (1, True)
    code, _, err = await run_cli(*base, "--topic", topics.product, "--to", "avro")
    assert (code, "--to avro needs --output FILE" in err) == (2, True)


async def _create(bootstrap: str, name: str, configs: dict[str, str]) -> None:
    spec = contract_topics.TopicSpec(name, 1, 1, configs)
    await ensure_all(bootstrap, [spec])


async def test_replay_refuses_positions_that_retention_or_compaction_removed(
    kafka_bootstrap: str,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    key = product_key("1", "x")
    # Retention: records before the log start offset are gone.
    retained = f"test.retained.{suffix}"
    await _create(kafka_bootstrap, retained, {"cleanup.policy": "delete"})
    await produce_events(kafka_bootstrap, retained, [change(f"r{n}", price="1") for n in range(5)])
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(retained, 0): RecordsToDelete(before_offset=2)})
    finally:
        await admin.close()
    code, _, err = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", retained, "--from", "0:0"
    )
    assert code == 1
    assert "position 0:0 is gone" in err
    assert "starts at 2" in err
    # Compaction: older records of a key disappear from the middle of the log.
    compacted = f"test.compacted.{suffix}"
    await _create(kafka_bootstrap, compacted, {
        "cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.001",
        "min.compaction.lag.ms": "0", "delete.retention.ms": "0",
    })  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()

    async def first_offset_gone() -> bool:
        # Appending rolls the active segment (segment.ms), so the cleaner can compact it.
        await producer.send_and_wait(
            compacted, codec.encode(change("x", catalog="1", price="1")), key=key
        )
        code, out, _ = await run_cli(
            "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", compacted
        )
        return code == 0 and json.loads(out.splitlines()[0])["offset"] > 0

    try:
        for _ in range(3):
            await producer.send_and_wait(
                compacted, codec.encode(change("x", catalog="1", price="1")), key=key
            )
        await eventually(first_offset_gone, timeout_s=120, every_s=1)
    finally:
        await producer.stop()
    code, _, err = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", compacted, "--from", "0:0"
    )
    assert code == 1
    assert "position 0:0 was removed by compaction" in err


async def test_topics_describe_shows_partitions_configs_and_group_lag(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    total = await produce_events(
        kafka_bootstrap, topics.product, [change(f"d{n}", price="1") for n in range(30)]
    )
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    store = SqliteStore(tmp_path / "v.db")
    async with running_projector(settings, store):
        await eventually(lambda: sum(store.positions(topics.product).values()) == total)
    store.close()
    code, out, err = await run_cli(
        "topics", "describe", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product
    )
    assert code == 0, err
    assert f"topic {topics.product}: 3 partitions, replication factor 1" in out
    assert "cleanup.policy = compact" in out
    assert f"{settings.group_id}: lag 0 over" in out
    row: Any = next(line.split() for line in out.splitlines() if line.strip().startswith("0 "))
    assert int(row[-1]) > 0  # partition 0's latest offset
