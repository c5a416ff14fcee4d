"""The wait-based linger condition (CATALOG_RECEIVER_LINGER_FROM_WAIT) measures a wait that its
own linger lengthens: once batches linger, every postback's wait includes that linger, so the
average it is judged by stays above `wait_from` lingers even when Kafka alone answers in less.

README: "At c=16 each waits about one linger, which a linger would double": such a receiver
must not linger. It doesn't start to on its own, but one short slow spell (a GC pause, a broker
hiccup: a few dozen slow acknowledgements) switches it to lingering, and it never switches
back: the linger it adds (5 ms) plus Kafka's 4 ms is above the 7.5 ms threshold, for good."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from receiver import produce_pacing
from receiver.produce_pacing import AccumulatorPace

CLIENTS = 16  # a closed-loop client with 16 connections: the c=16 case of the README
LINGER_MS = 5
KAFKA_S = 0.004  # Kafka's own answer: 0.8 lingers, below the 1.5 lingers asked for


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def _round(pace: AccumulatorPace, clock: _Clock, kafka_s: float) -> bool:
    """CLIENTS postbacks enter together; their batch leaves after the linger if the pace
    lingers, and Kafka acknowledges it `kafka_s` later. Returns whether it lingered."""
    entered = [pace.entering() for _ in range(CLIENTS)]
    lingered = pace.lingering
    clock.now += kafka_s + (LINGER_MS / 1000 if lingered else 0.0)
    for start in entered:
        pace.leaving(start)
    clock.now += 0.0002  # the clients send their next postbacks
    return lingered


def _pace(monkeypatch: pytest.MonkeyPatch) -> tuple[AccumulatorPace, _Clock]:
    clock = _Clock()
    monkeypatch.setattr(produce_pacing, "time", clock)
    producer = SimpleNamespace(
        _message_accumulator=SimpleNamespace(_linger_time=0.0, _compression_type=3)
    )
    # the defaults: CATALOG_RECEIVER_LINGER_FROM=8, _LINGER_MS=5, _LINGER_FROM_WAIT=1.5
    return AccumulatorPace(producer, 8, LINGER_MS, 1.5), clock


def test_a_quick_kafka_is_not_lingered_for(monkeypatch: pytest.MonkeyPatch) -> None:
    pace, clock = _pace(monkeypatch)
    assert not any(_round(pace, clock, KAFKA_S) for _ in range(500))


def test_a_short_slow_spell_does_not_leave_a_quick_kafka_lingered_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pace, clock = _pace(monkeypatch)
    for _ in range(100):
        _round(pace, clock, KAFKA_S)
    for _ in range(3):  # 48 postbacks wait 30 ms: well under a second of trouble
        _round(pace, clock, 0.030)
    after = [_round(pace, clock, KAFKA_S) for _ in range(2000)]  # ~20 s at this pace
    # Kafka answers in 4 ms again: a linger doubles the wait of every postback from here on
    assert not any(after[-100:]), f"still lingering after {len(after)} quick rounds"
