"""One fetch of the live consumer, with aiokafka's idle clock kept right.

aiokafka (0.14) counts a fetch in flight around `getmany` (`SubscriptionState.fetch_context`)
and counts it out after the context's `yield`, not in a `finally`: a `getmany` that raises
(`NoOffsetForPartitionError` on a new group and `OffsetOutOfRangeError` under
`auto_offset_reset="none"`, a cancel) stays counted for good. The consumer's idle clock
(`fetcher_idle_time`, what its coordinator compares with max.poll.interval) then reads 0 for
ever, and a consumer stuck on a store outage never leaves its group: its partitions are never
handed to a live instance (test_an_outage_longer_than_the_max_poll_interval, stop 35). A fetch
that raised is counted out here, as aiokafka does for one that returned."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def getmany(
    consumer: AIOKafkaConsumer, timeout_ms: int, max_records: int
) -> dict[TopicPartition, list[Any]]:
    """`consumer.getmany`, its fetch counted out if it raised. Only one task fetches from a
    consumer (the batch loop), so a count left higher than before this call is this call's."""
    state: Any = getattr(consumer, "_subscription", None)
    before = getattr(state, "_fetch_count", None)
    try:
        fetched: dict[TopicPartition, list[Any]] = await consumer.getmany(
            timeout_ms=timeout_ms, max_records=max_records
        )
    except BaseException:
        # (equal: raised before its count, or an aiokafka that counts out in a `finally`; none:
        # another aiokafka's layout, nothing known to count out)
        if isinstance(before, int) and state._fetch_count > before:
            state._fetch_count -= 1
            if state._fetch_count == 0:
                state._last_fetch_ended = time.monotonic()
        raise
    return fetched
