"""`catalog-stream replay`: read the product topic between two bounds into a sink.

Bounds are offsets per partition: from earliest, a time (the first record at or after it) or
explicit positions; until now (the end when the replay starts), a time, or explicit positions
(exclusive). Records come out in per-partition order.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from tqdm import tqdm

from catalog_contract.errors import ContractError
from catalog_contract.keys import parse_key
from catalog_contract.reader import Tombstone, read
from catalog_stream.positions import Bound
from catalog_stream.sinks import Sink


class ReplayError(Exception):
    """The replay cannot be done as asked; the message says why. Retrying will not help."""


@dataclass
class Summary:
    events: int = 0
    tombstones: int = 0
    skipped_by_filter: int = 0
    unreadable: int = 0
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition -> [first, last]

    def lines(self) -> list[str]:
        out = [
            f"events {self.events}, tombstones {self.tombstones}, "
            f"filtered out {self.skipped_by_filter}, unreadable {self.unreadable}"
        ]
        out += [f"  partition {p}: offsets {a}..{b}" for p, (a, b) in sorted(self.ranges.items())]
        return out


async def _offsets_at(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    bound: Bound,
    fallback: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if bound.kind == "edge":
        return dict(fallback)
    if bound.kind == "positions":
        assert bound.positions is not None
        unknown = set(bound.positions) - {tp.partition for tp in partitions}
        if unknown:
            raise ReplayError(f"no partition {sorted(unknown)} in the topic")
        return {tp: bound.positions.get(tp.partition, fallback[tp]) for tp in partitions}
    found = await consumer.offsets_for_times({tp: bound.time_ms for tp in partitions})
    ends = await consumer.end_offsets(partitions)
    return {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in partitions}


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="catalog-stream-replay")
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            raise ReplayError(f"topic {topic!r} does not exist")
        described = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in described[0]["partitions"])
    finally:
        await admin.close()


async def replay(
    bootstrap: str,
    topic: str,
    start: Bound,
    stop: Bound,
    catalogs: set[str],
    sink: Sink,
    progress: bool | None = None,
) -> Summary:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        raise ReplayError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    summary = Summary()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic)]
        earliest = await consumer.beginning_offsets(partitions)
        latest = await consumer.end_offsets(partitions)
        begin = await _offsets_at(consumer, partitions, start, earliest)
        end = await _offsets_at(consumer, partitions, stop, latest)
        for tp in partitions:
            if begin[tp] < earliest[tp]:
                raise ReplayError(
                    f"position {tp.partition}:{begin[tp]} is gone (retention or compaction removed "
                    f"it); partition {tp.partition} now starts at {earliest[tp]}"
                )
        todo = [tp for tp in partitions if begin[tp] < end[tp]]
        consumer.assign(todo)
        for tp in todo:
            consumer.seek(tp, begin[tp])
        total = sum(end[tp] - begin[tp] for tp in todo)
        with tqdm(
            total=total,
            unit="rec",
            unit_scale=True,
            desc=f"replaying {topic}",
            disable=None if progress is None else not progress,
            file=sys.stderr,
        ) as bar:
            exact = begin if start.kind == "positions" else {}
            await _copy(consumer, todo, exact, end, catalogs, sink, summary, bar)
    finally:
        await consumer.stop()
        await sink.close()
    return summary


async def _copy(
    consumer: AIOKafkaConsumer,
    todo: list[TopicPartition],
    exact: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
    catalogs: set[str],
    sink: Sink,
    summary: Summary,
    bar: Any,
) -> None:
    remaining = set(todo)
    first_seen: set[TopicPartition] = set()
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batches.items():
            for record in records:
                if record.offset >= end[tp]:
                    remaining.discard(tp)
                    break
                # An explicit start position must still exist (compaction removes records).
                if tp not in first_seen and tp in exact and record.offset > exact[tp]:
                    raise ReplayError(
                        f"position {tp.partition}:{exact[tp]} was removed by compaction; the "
                        f"next record there is {tp.partition}:{record.offset}"
                    )
                first_seen.add(tp)
                bar.update(1)
                await _one(record, catalogs, sink, summary)
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)


async def _one(record: Any, catalogs: set[str], sink: Sink, summary: Summary) -> None:
    try:
        if catalogs and record.key is not None and parse_key(record.key)[0] not in catalogs:
            summary.skipped_by_filter += 1
            return
        found = read(record.key, record.value, record.headers)
    except ContractError as exc:
        summary.unreadable += 1
        print(f"unreadable record {record.partition}:{record.offset}: {exc}", file=sys.stderr)
        return
    await sink.write(record, found)
    if isinstance(found, Tombstone):
        summary.tombstones += 1
    else:
        summary.events += 1
    first, _ = summary.ranges.get(record.partition, (record.offset, record.offset))
    summary.ranges[record.partition] = (first, record.offset)
