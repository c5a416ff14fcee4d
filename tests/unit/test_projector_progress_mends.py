"""Two small mends in what the consumer tells readers: the records past the last stable offset are
one value for /readyz and the gauge, and a position's refusal looks at the partition count no
more often than it must."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from projector.position_waiters import PositionWaiters
from tests.projector_harness import consumer_loop


class _Fetched:
    """What `_update_lag` asks of aiokafka's consumer: one partition, its end and stable offset
    as the last fetch answers said."""

    def __init__(self, topic: str, end: int, stable: int) -> None:
        self._tp = TopicPartition(topic, 0)
        self._end, self._stable = end, stable

    def assignment(self) -> set[TopicPartition]:
        return {self._tp}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def highwater(self, tp: TopicPartition) -> int:
        return self._end

    def last_stable_offset(self, tp: TopicPartition) -> int:
        return self._stable

    def last_poll_timestamp(self, tp: TopicPartition) -> int:
        return int(time.time() * 1000)


@pytest.mark.parametrize(("end", "stable", "past"), [(10, 7, 3), (10, 10, 0), (5, 7, 0)])
def test_the_gauge_says_the_records_past_stable_readyz_says(
    tmp_path: Path, end: int, stable: int, past: int
) -> None:
    # (Fails on the old code for a stable offset past the end: the gauge said -2, /readyz 0)
    loop = consumer_loop(tmp_path / "views.db")
    loop._update_lag(_Fetched(loop.settings.topic, end, stable))
    assert loop.past_stable == {0: past}
    assert loop.records_past_stable() == past
    gauge = loop.metrics.registry.get_sample_value(
        "projector_records_past_stable_offset", {"partition": "0"}
    )
    assert gauge == past


class _Counted(PositionWaiters):
    def __init__(self) -> None:
        super().__init__()
        self.looked = 0

    def unknown_partition(self, partition: int) -> str | None:
        self.looked += 1
        return super().unknown_partition(partition)


@pytest.mark.parametrize("partition", [0, 5])
async def test_a_refusal_without_a_recount_looks_at_the_count_once(partition: int) -> None:
    # (Fails on the old code: twice, once to decide and once to answer)
    waiters = _Counted()
    waiters.partitions = 2
    refusal = await waiters.refusal(partition, None)
    assert (refusal is None) == (partition < 2)
    assert waiters.looked == 1


async def test_a_refusal_with_a_recount_looks_before_and_after_it() -> None:
    waiters = _Counted()
    waiters.partitions = 2

    async def recount() -> int:
        return 8

    assert await waiters.refusal(5, recount) is None  # the topic has 8 partitions now
    assert waiters.looked == 2
    waiters.looked = 0
    assert await waiters.refusal(1, recount) is None  # known: Kafka not asked
    assert waiters.looked == 1
