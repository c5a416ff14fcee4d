"""Where a consumer's views stand: the offsets mirrored to Kafka for lag tools."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from aiokafka import TopicPartition

from projector.batch import BatchPlan
from projector.consumer_progress import ConsumerProgress
from runtime_support.quiet_logs import Outage


class Consumer:
    """Records commits; owns the partitions it is given (as after a rebalance)."""

    def __init__(self, owned: list[int]) -> None:
        self.owned = owned
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", p) for p in self.owned}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if any(tp.partition not in self.owned for tp in offsets):
            raise AssertionError("kafka refuses a partition this member does not own")
        self.commits.append(offsets)


def progress() -> ConsumerProgress:
    p = ConsumerProgress()
    p.settings = cast(Any, SimpleNamespace(topic="t"))
    p.applied, p.end_offsets, p.assigned = {}, {}, frozenset()
    p._fetch_outage, p._uncommitted, p._committed_at = Outage(), {}, -float("inf")
    return p


def plan(offsets: dict[int, int]) -> BatchPlan:
    return cast(BatchPlan, SimpleNamespace(next_offsets=offsets))


def test_a_batch_written_across_a_revoke_mirrors_only_the_partitions_still_owned() -> None:
    p, consumer = progress(), Consumer(owned=[0])
    asyncio.run(p._commit_for_tools(cast(Any, consumer), plan({0: 5, 1: 7})))
    assert consumer.commits == [{TopicPartition("t", 0): 5}]


def test_nothing_is_sent_when_every_partition_was_revoked() -> None:
    p, consumer = progress(), Consumer(owned=[])
    asyncio.run(p._commit_for_tools(cast(Any, consumer), plan({1: 7}), force=True))
    assert consumer.commits == []


def test_offsets_are_mirrored_at_most_once_a_second_unless_forced() -> None:
    p, consumer = progress(), Consumer(owned=[0])
    asyncio.run(p._commit_for_tools(cast(Any, consumer), plan({0: 1})))
    asyncio.run(p._commit_for_tools(cast(Any, consumer), plan({0: 2})))
    assert consumer.commits == [{TopicPartition("t", 0): 1}]
    asyncio.run(p._commit_for_tools(cast(Any, consumer), None, force=True))
    assert consumer.commits[-1] == {TopicPartition("t", 0): 2}
