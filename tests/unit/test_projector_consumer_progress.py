"""Where a consumer's views stand: the offsets mirrored to Kafka for lag tools."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from projector.batch import BatchPlan
from projector.consumer_progress import ConsumerProgress
from runtime_support.quiet_logs import Outage


class Consumer:
    """Records commits; owns the partitions it is given (as after a rebalance). A commit waits
    for `answer` when one is given (a broker slow to answer)."""

    def __init__(self, owned: list[int], answer: asyncio.Event | None = None) -> None:
        self.owned = owned
        self.answer = answer
        self.asked: list[dict[TopicPartition, int]] = []
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", p) for p in self.owned}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if any(tp.partition not in self.owned for tp in offsets):
            raise AssertionError("kafka refuses a partition this member does not own")
        self.asked.append(offsets)
        if self.answer is not None:
            await self.answer.wait()
        self.commits.append(offsets)


def progress() -> ConsumerProgress:
    p = ConsumerProgress()
    p.settings = cast(Any, SimpleNamespace(topic="t"))
    p.applied, p.end_offsets, p.assigned = {}, {}, frozenset()
    p._fetch_outage, p._uncommitted, p._committed_at = Outage(), {}, -float("inf")
    p._mirroring = None
    return p


def plan(offsets: dict[int, int]) -> BatchPlan:
    return cast(BatchPlan, SimpleNamespace(next_offsets=offsets))


def mirror(p: ConsumerProgress, consumer: Consumer, offsets: dict[int, int] | None) -> None:
    """One batch's mirror, and whatever commit it started, to its end."""

    async def batch() -> None:
        await p._commit_for_tools(cast(Any, consumer), plan(offsets) if offsets else None)
        await p._mirror_settled()

    asyncio.run(batch())


def test_a_batch_written_across_a_revoke_mirrors_only_the_partitions_still_owned() -> None:
    p, consumer = progress(), Consumer(owned=[0])
    mirror(p, consumer, {0: 5, 1: 7})
    assert consumer.commits == [{TopicPartition("t", 0): 5}]


def test_nothing_is_sent_when_every_partition_was_revoked() -> None:
    p, consumer = progress(), Consumer(owned=[])
    asyncio.run(p._commit_for_tools(cast(Any, consumer), plan({1: 7}), force=True))
    assert consumer.commits == []


def test_offsets_are_mirrored_at_most_once_a_second_unless_forced() -> None:
    p, consumer = progress(), Consumer(owned=[0])
    mirror(p, consumer, {0: 1})
    mirror(p, consumer, {0: 2})
    assert consumer.commits == [{TopicPartition("t", 0): 1}]
    asyncio.run(p._commit_for_tools(cast(Any, consumer), None, force=True))
    assert consumer.commits[-1] == {TopicPartition("t", 0): 2}


def test_a_slow_commit_holds_up_no_batch_and_the_stop_still_mirrors_the_last_offsets() -> None:
    """The mirror's round trip runs beside the consumer loop: a batch's bookkeeping returns
    while Kafka has not answered; one commit at a time (the next batches' offsets wait for the
    next); stopping waits for the one under way, then mirrors what is left."""

    async def scenario() -> None:
        answer = asyncio.Event()
        p, consumer = progress(), Consumer(owned=[0, 1], answer=answer)
        async with asyncio.timeout(30):  # the old code waits here for an answer never sent
            await p._commit_for_tools(cast(Any, consumer), plan({0: 5}))
            p._committed_at = -float("inf")  # as if a second had passed
            await p._commit_for_tools(cast(Any, consumer), plan({0: 9, 1: 3}))
        await asyncio.sleep(0.01)  # the commit under way has asked
        assert consumer.asked == [{TopicPartition("t", 0): 5}]  # the second waits its turn
        assert consumer.commits == []
        stopping = asyncio.ensure_future(p._commit_for_tools(cast(Any, consumer), None, force=True))
        await asyncio.sleep(0.01)
        assert not stopping.done()  # the stop waits for the commit under way
        answer.set()
        await asyncio.wait_for(stopping, 30)
        assert consumer.commits == [
            {TopicPartition("t", 0): 5},
            {TopicPartition("t", 0): 9, TopicPartition("t", 1): 3},
        ]

    asyncio.run(scenario())


def test_a_commit_that_fails_is_logged_and_the_next_one_goes_ahead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Refusing(Consumer):
        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            self.asked.append(offsets)
            if len(self.asked) == 1:
                raise KafkaError("coordinator moved")
            self.commits.append(offsets)

    p, consumer = progress(), Refusing(owned=[0])
    with caplog.at_level(logging.INFO, logger="projector.consumer_progress"):
        mirror(p, consumer, {0: 4})
    assert "could not mirror offsets to kafka" in caplog.text
    p._committed_at = -float("inf")
    mirror(p, consumer, {0: 6})
    assert consumer.commits == [{TopicPartition("t", 0): 6}]
