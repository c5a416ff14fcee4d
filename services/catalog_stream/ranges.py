"""Reading a topic between two bounds (`--from` / `--until`), shared by `replay` and
`dead-letters`: bounds become offsets per partition, records come out in per-partition order,
with a progress bar (rate, ETA) on a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, OffsetOutOfRangeError
from tqdm import tqdm

from catalog_contract.consumer_stop import stop_consumer
from catalog_contract.kafka_auth import KafkaAuthError, check_credentials
from catalog_contract.kafka_connection import KafkaConnection, kafka_connection
from catalog_contract.positions import position_text
from catalog_stream.errors import CatalogStreamError
from catalog_stream.range_gaps import gap_at, gap_text
from catalog_stream.replay_bounds import Bound, BoundError, future_refusal, offsets_refusal

STALL_S = 60.0
"""How long a replay waits on the broker for records it is owed before it gives up (the broker
gone); time spent by the sink on records already read does not count."""


class RangeError(CatalogStreamError):
    """The range cannot be read as asked; the message says why. Retrying will not help."""


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
            raise RangeError(f"no partition {sorted(unknown)} in the topic")
        return {tp: bound.positions.get(tp.partition, fallback[tp]) for tp in partitions}
    found = await consumer.offsets_for_times({tp: bound.time_ms for tp in partitions})
    ends = await consumer.end_offsets(partitions)
    return {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in partitions}


async def topic_partitions(
    connection: KafkaConnection, topic: str, name: str = "topic"
) -> list[int]:
    """The partition numbers of `topic`, asked of the cluster's metadata (answered at once; a
    client's own metadata wait for a missing topic lasts its request timeout). `name` says
    which topic it is in the error (RangeError) when it does not exist."""
    admin = AIOKafkaAdminClient(**connection.client_options(), client_id="catalog-stream-range")
    try:
        await admin.start()
    except KafkaError as exc:
        raise RangeError(f"cannot reach Kafka at {connection.describe()}: {exc}") from exc
    try:
        if topic not in await admin.list_topics():
            raise RangeError(f"{name} {topic!r} does not exist")
        described = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in described[0]["partitions"])
    finally:
        await admin.close()


async def offset_spans(
    connection: KafkaConnection, topic: str, partitions: list[int]
) -> dict[int, tuple[int, int]]:
    """Each partition of `topic`'s first offset still held and where the next record written
    lands (its high watermark): it holds records when they differ."""
    consumer = AIOKafkaConsumer(**connection.consumer_options(), enable_auto_commit=False)
    wanted = [TopicPartition(topic, p) for p in partitions]
    try:
        await consumer.start()
        starts = await consumer.beginning_offsets(wanted)
        ends = await consumer.end_offsets(wanted)
    except KafkaError as exc:
        raise RangeError(f"cannot read the ends of {topic!r}: {exc}") from exc
    finally:
        await consumer.stop()
    return {tp.partition: (starts[tp], ends[tp]) for tp in wanted}


async def read_range(
    kafka: KafkaConnection | str,
    topic: str,
    start: Bound,
    stop: Bound,
    description: str,
    progress: bool | None = None,
    stall_s: float = STALL_S,
    ready: Callable[[list[int]], Awaitable[None]] | None = None,
) -> AsyncGenerator[Any, None]:
    """Every record of `topic` in [start, stop), per partition in offset order. `progress` None
    shows the bar only on a terminal. Use with `contextlib.aclosing` so the consumer stops.
    Raises a retryable RangeError when the broker, asked for records still owed, has sent none
    for `stall_s` of waiting (time the caller spends on yielded records is not counted).
    `ready` is awaited with the topic's partition numbers before anything is read (a sink
    checks there that it can take them)."""
    connection = kafka_connection(kafka)
    try:
        await check_credentials(connection)
    except KafkaAuthError as exc:
        raise RangeError(str(exc)) from exc
    # auto_offset_reset "none": a position removed meanwhile (retention) is an error; by
    # default it jumped to the partition's end, and the replay ended early, "complete".
    consumer = AIOKafkaConsumer(
        **connection.consumer_options(),
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="none",
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()  # a consumer that failed to start still holds its client
        raise RangeError(f"cannot reach Kafka at {connection.describe()}: {exc}") from exc
    try:
        numbers = await topic_partitions(connection, topic)
        if ready is not None:
            await ready(numbers)
        partitions = [TopicPartition(topic, p) for p in numbers]
        earliest = await consumer.beginning_offsets(partitions)
        latest = await consumer.end_offsets(partitions)
        begin = await _offsets_at(consumer, partitions, start, earliest)
        # Never past the end at the start: an offset not yet written would be waited for forever.
        stops = await _offsets_at(consumer, partitions, stop, latest)
        end = {tp: min(stops[tp], latest[tp]) for tp in partitions}
        for tp in partitions:
            if begin[tp] < earliest[tp]:
                raise RangeError(
                    f"position {position_text(tp.partition, begin[tp])} is gone (retention or "
                    "compaction removed "
                    f"it); partition {tp.partition} now starts at {earliest[tp]}"
                )
        if all(begin[tp] >= latest[tp] for tp in partitions) and (
            future := future_refusal(start, int(time.time() * 1000))
        ):  # (no record at or after a --from time past the clock: a usage error, exit 2)
            raise BoundError(future)
        refused = offsets_refusal(
            start.positions or {},
            {} if start.kind == "edge" else {tp.partition: begin[tp] for tp in partitions},
            {tp.partition: stops[tp] for tp in partitions},
            {tp.partition: latest[tp] for tp in partitions},
        )
        if refused is not None:
            raise RangeError(refused)
        todo = [tp for tp in partitions if begin[tp] < end[tp]]
        consumer.assign(todo)
        for tp in todo:
            consumer.seek(tp, begin[tp])
        with tqdm(
            total=sum(end[tp] - begin[tp] for tp in todo),
            unit="rec",
            unit_scale=True,
            desc=description,
            disable=None if progress is None else not progress,
            file=sys.stderr,
        ) as bar:
            # Only the partitions named: another is read from its start, whatever is there.
            named = start.positions or {}  # (None unless the start is positions)
            exact = {tp: begin[tp] for tp in partitions if tp.partition in named}
            remaining = set(todo)
            first_seen: set[TopicPartition] = set()
            # Time spent waiting on the broker since records last arrived: only inside
            # getmany, never while the caller (a sink, maybe slow) holds a record we yielded.
            waited = 0.0
            while remaining:
                asked = time.monotonic()
                try:
                    batches = await consumer.getmany(*remaining, timeout_ms=1000)
                except OffsetOutOfRangeError as exc:
                    raise await _removed_meanwhile(consumer, exc) from exc
                if batches:
                    waited = 0.0
                elif (waited := waited + time.monotonic() - asked) > stall_s:
                    # aiokafka retries an unreachable broker forever, answering nothing.
                    raise RangeError(
                        f"no record arrived from Kafka at {connection.describe()} for "
                        f"{stall_s:.0f} s, with {len(remaining)} partition(s) still to read "
                        "(is the broker down?)",
                        retryable=True,
                    )
                for tp, records in batches.items():
                    for record in records:
                        if record.offset >= end[tp]:
                            remaining.discard(tp)
                            break
                        # An explicit start position must hold a committed record (compaction
                        # removes records; an aborted transaction's and its marker are none).
                        if tp not in first_seen and tp in exact and record.offset > exact[tp]:
                            gap = await gap_at(consumer, tp, exact[tp])
                            raise RangeError(
                                gap_text(
                                    gap,
                                    position_text(tp.partition, exact[tp]),
                                    position_text(tp.partition, record.offset),
                                )
                            )
                        first_seen.add(tp)
                        bar.update(1)
                        yield record
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
            # A start named that no committed record followed in the range holds none either.
            for tp in sorted(exact.keys() & set(todo) - first_seen):
                gap = await gap_at(consumer, tp, exact[tp])
                where = position_text(tp.partition, exact[tp])
                raise RangeError(gap_text(gap, where, position_text(tp.partition, end[tp]), True))
    finally:
        await stop_consumer(consumer)


async def _removed_meanwhile(consumer: AIOKafkaConsumer, exc: OffsetOutOfRangeError) -> RangeError:
    positions: dict[TopicPartition, int] = exc.args[0] if exc.args else {}
    starts = await consumer.beginning_offsets(list(positions))
    where = "; ".join(
        f"position {position_text(tp.partition, offset)} is gone, partition {tp.partition} "
        f"now starts at {starts[tp]}"
        for tp, offset in sorted(positions.items())
    )
    return RangeError(
        f"records were removed while the replay read them (retention or delete_records): {where}"
    )
