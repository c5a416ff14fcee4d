"""The producer's pace (receiver/produce_pacing.py): the rule, and that the aiokafka we pin reads
the two accumulator attributes it sets when it opens a batch."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from receiver.errors import PublishFailed
from receiver.produce_pacing import AccumulatorPace, Pace, WaitAverage, lingers, pace_for
from receiver.publisher import Publisher
from receiver.settings import ReceiverSettings

LZ4_ATTRIBUTES = 3  # Kafka's record-batch compression bits for lz4
TP = TopicPartition("t", 0)


def test_lingering_starts_at_linger_from_and_stops_below_half_of_it() -> None:
    assert [lingers(False, n, 32) for n in (1, 31, 32, 900)] == [False, False, True, True]
    assert [lingers(True, n, 32) for n in (1, 15, 16, 31, 900)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert [lingers(True, n, 1) for n in (0, 1)] == [False, True]
    assert pace_for(False, 5) == Pace(0.0, False)
    assert pace_for(True, 5) == Pace(0.005, True)
    assert pace_for(True, 0) == Pace(0.0, True)


@given(st.lists(st.integers(1, 10_000), max_size=50), st.integers(0, 1_000))
def test_linger_from_one_is_the_fixed_pace_of_before(counts: list[int], linger_ms: int) -> None:
    # What the producer did for every batch before the pace followed the load.
    lingering = False
    for awaiting in counts:
        lingering = lingers(lingering, awaiting, 1)
        assert pace_for(lingering, linger_ms) == Pace(linger_ms / 1000, True)


@given(st.lists(st.integers(1, 200), max_size=60), st.integers(1, 100))
def test_the_pace_is_the_hysteresis_it_says(counts: list[int], linger_from: int) -> None:
    """Against a plain model: start at linger_from, keep while at least half of it."""
    lingering = False
    for awaiting in counts:
        was = lingering
        lingering = lingers(lingering, awaiting, linger_from)
        if awaiting >= linger_from:
            assert lingering
        elif awaiting < max(1, linger_from // 2):
            assert not lingering
        else:
            assert lingering == was


def _compression(batch: Any) -> int:
    """The compression bits of the record batch `batch` writes (the builder is compiled code)."""
    batch.append(b"k", b"v" * 200, None)
    return int(DefaultRecordBatch(bytes(batch.get_data_buffer())).compression_type)


def _opened(accumulator: Any) -> Any:
    """The batch the accumulator opens for the next record (drained again after)."""
    batch = accumulator._append_batch(accumulator.create_builder(), TP)
    accumulator._batches.clear()
    return batch


async def test_the_pinned_aiokafka_opens_batches_at_the_pace_set() -> None:
    # A linger long enough that a loaded machine cannot let it pass between two lines (5 ms did).
    producer = AIOKafkaProducer(linger_ms=60_000, compression_type="lz4")  # never connects
    try:
        _paced(producer)
    finally:
        await producer.stop()


def _paced(producer: AIOKafkaProducer) -> None:
    accumulator: Any = producer._message_accumulator
    assert accumulator._compression_type == LZ4_ATTRIBUTES
    pace = AccumulatorPace(producer, linger_from=3, linger_ms=60_000)
    assert pace.adapts

    lone = _opened(accumulator)
    assert lone.remaining_linger() is None  # ready to send at once
    assert _compression(lone) == 0

    pace.entering()
    pace.entering()
    pace.entering()
    assert pace.awaiting == 3
    crowded = _opened(accumulator)
    remaining = crowded.remaining_linger()
    assert remaining is not None
    assert 0 < remaining <= 60
    assert _compression(crowded) == LZ4_ATTRIBUTES

    pace.leaving()
    assert pace.awaiting == 2
    assert _opened(accumulator).remaining_linger() is not None  # 2 of 3: still lingering
    pace.leaving()
    pace.leaving()
    assert _opened(accumulator).remaining_linger() is None


async def test_a_producer_without_the_attributes_keeps_its_pace() -> None:
    class Elsewhere:
        _message_accumulator = object()

    pace = AccumulatorPace(Elsewhere(), linger_from=1, linger_ms=5)
    pace.entering()
    pace.leaving()
    assert not pace.adapts


class _Producer:
    """A producer whose sends fail, time out or are acknowledged, as each test says."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self._message_accumulator = SimpleNamespace(_linger_time=0.005, _compression_type=3)

    async def send(self, topic: str, **_: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.outcome == "refused":
            raise KafkaConnectionError("broker gone")
        if self.outcome == "acked":
            future.set_result(SimpleNamespace(topic=topic, partition=0, offset=7))
        if self.outcome == "lost":
            future.set_exception(KafkaTimeoutError())
        return future  # "silent": never answered


@pytest.mark.parametrize("outcome", ["refused", "lost", "silent", "cancelled", "acked"])
async def test_every_way_out_of_publish_leaves_the_count(outcome: str) -> None:
    """A count that leaked on a failure would keep the receiver lingering at low load."""
    settings = ReceiverSettings(dev_mode=True, produce_timeout_s=0.2, linger_from=2)
    publisher = Publisher(settings)
    producer = _Producer("silent" if outcome == "cancelled" else outcome)
    pace = AccumulatorPace(producer, settings.linger_from, settings.linger_ms)
    publisher._producer, publisher._pace = producer, pace
    publishing = [asyncio.create_task(publisher.publish("t", b"k", b"v")) for _ in range(3)]
    await asyncio.sleep(0)
    if outcome in {"silent", "cancelled"}:  # (the others are through at their first step)
        assert pace.awaiting == 3
        assert producer._message_accumulator._linger_time == 0.005  # 3 awaiting: lingering
    if outcome == "cancelled":
        for task in publishing:
            task.cancel()
    results = await asyncio.gather(*publishing, return_exceptions=True)
    assert pace.awaiting == 0
    assert producer._message_accumulator._linger_time == 0.0
    expected = {
        "acked": list,
        "cancelled": asyncio.CancelledError,
    }.get(outcome, PublishFailed)
    assert all(isinstance(result, expected) for result in results), results


@given(
    st.booleans(),
    st.integers(0, 500),
    st.integers(1, 100),
    st.floats(0, 10, allow_nan=False),
)
def test_with_no_wait_asked_for_the_count_alone_decides(
    lingering: bool, awaiting: int, linger_from: int, wait_s: float
) -> None:
    """Differential: `wait_from_s` 0 is the pace of before, whatever the wait."""
    assert lingers(lingering, awaiting, linger_from, wait_s, 0.0) == lingers(
        lingering, awaiting, linger_from
    )


def test_no_batch_lingers_while_postbacks_wait_less_than_asked() -> None:
    assert not lingers(False, 900, 8, 0.0099, 0.01)
    assert not lingers(True, 900, 8, 0.0099, 0.01)
    assert lingers(False, 8, 8, 0.01, 0.01)
    assert lingers(True, 4, 8, 0.01, 0.01)
    assert not lingers(False, 7, 8, 1.0, 0.01)  # the count still has its say


def test_the_wait_average_weighs_each_new_wait_by_its_weight() -> None:
    average = WaitAverage(weight=1 / 4)
    assert average.seconds == 0.0
    average.add(0.008)
    assert average.seconds == 0.002
    average.add(0.002)
    assert average.seconds == 0.002
    average.add(0.010)
    assert average.seconds == 0.004


async def test_a_few_quickly_acknowledged_postbacks_do_not_make_batches_linger() -> None:
    """The c=16 case: many postbacks await, but each waits less than two lingers, so a linger
    would double their wait. The count-only pace lingered here (it fails on the old code)."""
    # A linger long enough that a loaded machine cannot let it pass between two lines (5 ms did).
    producer = AIOKafkaProducer(linger_ms=60_000, compression_type="lz4")  # never connects
    try:
        accumulator: Any = producer._message_accumulator
        pace = AccumulatorPace(producer, linger_from=3, linger_ms=5, wait_from=2.0)
        for _ in range(3):
            pace.entering()
        assert pace.awaiting == 3
        quick = _opened(accumulator)
        assert quick.remaining_linger() is None
        assert _compression(quick) == 0
        # Postbacks start to wait 50 ms each (a loaded receiver): the average passes 10 ms.
        for _ in range(40):
            pace.leaving(pace.entering() - 0.05)
        assert pace.wait_s > 0.01
        assert pace.awaiting == 3
        pace.entering()
        slow = _opened(accumulator)
        assert slow.remaining_linger() is not None
        assert _compression(slow) == LZ4_ATTRIBUTES
    finally:
        await producer.stop()


@pytest.mark.parametrize("outcome", ["acked", "lost", "refused"])
async def test_only_acknowledged_postbacks_count_in_the_wait(outcome: str) -> None:
    settings = ReceiverSettings(dev_mode=True, produce_timeout_s=0.2)
    publisher = Publisher(settings)
    producer = _Producer(outcome)
    pace = AccumulatorPace(producer, settings.linger_from, settings.linger_ms, 2.0)
    publisher._producer, publisher._pace = producer, pace
    await asyncio.gather(publisher.publish("t", b"k", b"v"), return_exceptions=True)
    assert pace.awaiting == 0
    assert (pace.wait_s > 0) == (outcome == "acked")
