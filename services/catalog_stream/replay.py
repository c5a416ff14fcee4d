"""`catalog-stream replay`: read the product topic between two bounds into a sink.

Bounds are offsets per partition: from earliest, a time (the first record at or after it) or
explicit positions; until now (the end when the replay starts), a time, or explicit positions
(exclusive). Records come out in per-partition order.
"""

from __future__ import annotations

import sys
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from catalog_contract.errors import ContractError
from catalog_contract.kafka_connection import KafkaConnection
from catalog_contract.keys import parse_key
from catalog_contract.positions import position_text
from catalog_contract.reader import Tombstone, read
from catalog_stream.ranges import read_range
from catalog_stream.replay_bounds import Bound
from catalog_stream.sinks import Sink


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


async def replay(
    kafka: KafkaConnection | str,
    topic: str,
    start: Bound,
    stop: Bound,
    catalogs: set[str],
    sink: Sink,
    progress: bool | None = None,
) -> Summary:
    """Raises ranges.RangeError when the bounds or the topic do not allow it."""
    summary = Summary()
    try:
        records = read_range(
            kafka, topic, start, stop, f"replaying {topic}", progress, ready=sink.open
        )
        async with aclosing(records):
            async for record in records:
                await _one(record, catalogs, sink, summary)
    finally:
        await sink.close()
    return summary


async def _one(record: Any, catalogs: set[str], sink: Sink, summary: Summary) -> None:
    try:
        if catalogs and record.key is not None and parse_key(record.key)[0] not in catalogs:
            summary.skipped_by_filter += 1
            return
        found = read(record.key, record.value, record.headers)
    except ContractError as exc:
        summary.unreadable += 1
        where = position_text(record.partition, record.offset)
        print(f"unreadable record {where}: {exc}", file=sys.stderr)
        return
    await sink.write(record, found)
    if isinstance(found, Tombstone):
        summary.tombstones += 1
    else:
        summary.events += 1
    first, _ = summary.ranges.get(record.partition, (record.offset, record.offset))
    summary.ranges[record.partition] = (first, record.offset)
