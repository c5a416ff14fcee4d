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
from receiver.produce_pacing import AccumulatorPace, Pace, lingers, pace_for
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
    producer = AIOKafkaProducer(linger_ms=5, compression_type="lz4")  # never connects
    try:
        _paced(producer)
    finally:
        await producer.stop()


def _paced(producer: AIOKafkaProducer) -> None:
    accumulator: Any = producer._message_accumulator
    assert accumulator._compression_type == LZ4_ATTRIBUTES
    pace = AccumulatorPace(producer, linger_from=3, linger_ms=5)
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
    assert 0 < remaining <= 0.005
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
