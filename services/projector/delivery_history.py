"""At start-up, fill the delivery statistics' hour and day windows from the topic: the records
of the last day below the views' stored positions (the live consumer starts at those positions
and counts what comes after, so nothing is counted twice). A background task: the projector
serves and consumes meanwhile; the windows are complete once it ends."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from catalog_contract.consumer_stop import stop_consumer
from catalog_contract.kafka_connection import KafkaConnection
from projector.delivery import DeliveryStats
from projector.records import read_record

log = logging.getLogger(__name__)
DAY_S = 86_400
# Polls that return nothing before giving up on a partition whose last records below the stored
# position were compacted away (its end is then never seen).
IDLE_POLLS = 4


def _observe(stats: DeliveryStats, messages: list[Any]) -> None:
    """In a worker thread: decoding a day of records is not the event loop's work."""
    records = [read_record(m.partition, m.offset, m.key, m.value, m.headers) for m in messages]
    stats.observe(zip(records, [m.headers for m in messages], strict=True), history=True)


async def read_history(
    kafka: KafkaConnection, topic: str, stats: DeliveryStats, until: Mapping[int, int]
) -> int:
    """Feed `stats` the records of the last day below `until` (partition -> stored position);
    returns how many records were read."""
    consumer = AIOKafkaConsumer(
        **kafka.consumer_options(),
        group_id=None,
        enable_auto_commit=False,
        client_id="catalog-stream-delivery-history",
    )
    try:
        await consumer.start()  # in the try: a cancelled start must be stopped, too
        wanted = [TopicPartition(topic, p) for p, end in sorted(until.items()) if end > 0]
        since_ms = int((time.time() - DAY_S) * 1000)
        starts = await consumer.offsets_for_times(dict.fromkeys(wanted, since_ms))
        remaining = {
            tp: until[tp.partition]
            for tp, found in starts.items()
            if found is not None and found.offset < until[tp.partition]
        }
        consumer.assign(list(remaining))
        for tp in remaining:
            consumer.seek(tp, starts[tp].offset)
        read, idle = 0, 0
        while remaining and idle < IDLE_POLLS:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            idle = 0 if batches else idle + 1
            for tp, messages in batches.items():
                end = remaining.get(tp)
                if end is None:
                    continue
                below = [m for m in messages if m.offset < end]
                await asyncio.to_thread(_observe, stats, below)
                read += len(below)
                if messages[-1].offset + 1 >= end:
                    del remaining[tp]
                    consumer.pause(tp)
        return read
    finally:
        await stop_consumer(consumer)


async def fill_from_topic(
    kafka: KafkaConnection, topic: str, stats: DeliveryStats, until: Mapping[int, int]
) -> None:
    """`read_history`, logged; a failure leaves the windows to fill from live traffic."""
    started = time.monotonic()
    try:
        read = await read_history(kafka, topic, stats, until)
    except KafkaError as exc:
        log.warning("delivery statistics: could not read the last day from the topic: %s", exc)
        return
    except Exception:  # statistics only: never take the projector down with them
        log.exception("delivery statistics: reading the last day from the topic failed")
        return
    log.info(
        "delivery statistics: last day read from the topic",
        extra={"records": read, "seconds": round(time.monotonic() - started, 1)},
    )
