"""A rebuild's look at a topic recreated under the views (topic_behind.py says how it comes
about): the partitions whose records the active generation holds none of any more, found from
the topic's ends, and the generation's positions without them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Set

from aiokafka.errors import KafkaError

from projector.topic_behind import BEHIND_CONFIRM_S, overtaken

log = logging.getLogger(__name__)


async def recreated_partitions(
    ends: Callable[[], Awaitable[dict[int, int]]],
    positions: Mapping[int, int],
    confirm_s: float = BEHIND_CONFIRM_S,
) -> frozenset[int]:
    """A rebuild's: the partitions where a generation's `positions` are past the topic's end
    (`ends()`, a look at Kafka) in two looks `confirm_s` apart (a failover's trailing high
    watermark is not a recreated topic). Its old positions there mean nothing any more: the
    rebuild reads, feeds and keeps those partitions as the topic now is (Rebuild)."""

    async def looked() -> dict[int, int]:
        found = await ends()
        # A partition the topic no longer has (recreated with fewer) holds none of the views'
        # records: as one ending at 0. (No partition at all: the topic is not there yet.)
        return {**dict.fromkeys(positions, 0), **found} if found else found

    try:
        first = overtaken(await looked(), positions, set(positions))
        if not first:
            return frozenset()
        await asyncio.sleep(confirm_s)
        second = overtaken(await looked(), positions, set(positions))
    except (TimeoutError, KafkaError) as exc:  # none found: the builder waits for Kafka anyway
        log.warning("rebuild: could not compare the views' positions with the topic's ends: %r",
                    exc)  # fmt: skip
        return frozenset()
    found = frozenset(first.keys() & second.keys())
    if found:
        log.warning(
            "rebuild: the topic was recreated under the views; those partitions are built as "
            "the topic now is",
            extra={"partitions": sorted(found)},
        )
    return found


def without(positions: Mapping[int, int], recreated: Set[int]) -> dict[int, int]:
    """`positions` but for the `recreated` partitions (whose records the views hold none of)."""
    return {p: o for p, o in positions.items() if p not in recreated}
