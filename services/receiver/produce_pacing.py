"""How the producer paces its batches: at once when few postbacks await Kafka, gathered under load.

No fixed setting wins both ends (README, profiling): lingering 5 ms with lz4 makes few, large
produce requests, which is what a loaded receiver needs (each request costs aiokafka and the
broker CPU), but with few postbacks in flight each one waits out the linger for company that does
not come, and the receiver falls below a naive `send_and_wait` one. So the pace follows the load:
below `linger_from` postbacks awaiting acknowledgement a new batch leaves at once, uncompressed;
from there on it lingers `linger_ms` and is compressed as configured, until fewer than half of
`linger_from` await (`lingers`).

A count alone is not enough: a closed-loop client with 16 connections keeps 16 postbacks
awaiting, and lingering 5 ms then caps it near 16 per 5 ms while adding a linger to a wait of
about as much (README, profiling). So lingering also needs the postbacks' recent wait for their
acknowledgement (`WaitAverage`) to be at least `wait_from_s` (by default 1.5 lingers): when
postbacks already wait several lingers, one more linger is a small share of their wait and the
batches it gathers save CPU; when they wait about one linger, it would double their wait.

aiokafka fixes `linger_ms` and `compression_type` when the producer is built. Its accumulator
reads both from two attributes each time it opens a batch (`MessageBatch` keeps the linger it was
opened with; `create_builder` the compression), and its sender sends a batch once that linger has
passed, or at once when it is full; one request per broker is in flight, so records arriving
meanwhile share the next one either way. `AccumulatorPace` sets those two attributes, nothing
else: every record still goes through `AIOKafkaProducer.send` (same partitioner, same idempotent
sequence numbers, same acks=all), so what is acknowledged, and the order of one key's records,
are as before; only when a batch is closed changes. The attributes are checked when the
producer is built (aiokafka is pinned in requirements.lock; tests/unit/test_produce_pacing.py
reads them from a real producer), and without them the producer keeps its fixed pace.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_LINGER = "_linger_time"  # seconds, read by MessageBatch when a batch is opened
_COMPRESSION = "_compression_type"  # record-batch attributes, read by create_builder


@dataclass(frozen=True, slots=True)
class Pace:
    linger_s: float
    compressed: bool


def lingers(
    lingering: bool, awaiting: int, linger_from: int, wait_s: float = 0.0, wait_from_s: float = 0.0
) -> bool:
    """Whether a batch opened now lingers, given whether the last one did, how many postbacks
    (this one included) await Kafka and how long they recently waited for it (`wait_s`).
    Lingering starts at `linger_from` awaiting and stops only below half of it: a loaded
    receiver that lingers keeps doing so through the dips of its own count (each batch sent at
    once in a dip means one more produce request, which is what a loaded receiver cannot
    afford), and a quiet one never starts. Neither lingers while the wait is below
    `wait_from_s` (0: the count alone decides)."""
    if wait_s < wait_from_s:
        return False
    if lingering:
        return awaiting >= max(1, linger_from // 2)
    return awaiting >= linger_from


def pace_for(lingering: bool, linger_ms: int) -> Pace:
    if lingering:
        return Pace(linger_ms / 1000, True)
    return Pace(0.0, False)


class WaitAverage:
    """The recent wait for acknowledgement: an exponentially weighted mean over the last few
    dozen postbacks (each new wait counts `weight`), so it follows a change of load within tens
    of milliseconds at thousands per second and one slow postback moves it little."""

    __slots__ = ("_weight", "seconds")

    def __init__(self, weight: float = 1 / 32) -> None:
        self.seconds = 0.0
        self._weight = weight

    def add(self, waited_s: float) -> None:
        self.seconds += (waited_s - self.seconds) * self._weight


class AccumulatorPace:
    """Sets the pace of one producer's accumulator as postbacks enter and leave `publish`."""

    __slots__ = (
        "_accumulator",
        "_attributes",
        "_awaiting",
        "_current",
        "_linger_from",
        "_lingering",
        "_paces",
        "_wait",
        "_wait_from_s",
    )

    def __init__(
        self, producer: Any, linger_from: int, linger_ms: int, wait_from: float = 0.0
    ) -> None:
        """`wait_from`: lingering needs a recent wait of at least this many times `linger_ms`."""
        self._awaiting = 0
        self._wait = WaitAverage()
        self._wait_from_s = wait_from * linger_ms / 1000
        self._lingering = False
        self._linger_from = linger_from
        # Both paces built once: `_apply` runs twice a postback, and picks one by identity.
        self._paces = (pace_for(False, linger_ms), pace_for(True, linger_ms))
        accumulator = getattr(producer, "_message_accumulator", None)
        if not all(hasattr(accumulator, name) for name in (_LINGER, _COMPRESSION)):
            log.warning("this aiokafka has no accumulator pace to set: batches keep a fixed pace")
            accumulator = None
        self._accumulator = accumulator
        # the compression the producer was built with (its record-batch attribute bits)
        self._attributes: int = getattr(accumulator, _COMPRESSION, 0)
        self._current: Pace | None = None
        self._apply()

    @property
    def adapts(self) -> bool:
        return self._accumulator is not None

    @property
    def awaiting(self) -> int:
        return self._awaiting

    @property
    def wait_s(self) -> float:
        return self._wait.seconds

    def entering(self) -> float:
        """Count one more postback awaiting Kafka; returns when (for `leaving`), moved on by
        the linger its batch is given: the wait the average judges is Kafka's, not the one the
        pace itself adds (else a linger keeps the wait above `wait_from` lingers for good)."""
        self._awaiting += 1
        self._apply()
        linger_s = self._current.linger_s if self._current is not None else 0.0
        return time.monotonic() + linger_s

    def leaving(self, entered: float | None = None) -> None:
        """One postback less; `entered` (from `entering`) once it was acknowledged: its wait
        joins the average (a failed one's does not: it says nothing of the pace)."""
        self._awaiting -= 1
        if entered is not None:
            self._wait.add(time.monotonic() - entered)
        self._apply()

    @property
    def lingering(self) -> bool:
        return self._lingering

    def _apply(self) -> None:
        self._lingering = lingers(
            self._lingering,
            self._awaiting,
            self._linger_from,
            self._wait.seconds,
            self._wait_from_s,
        )
        pace = self._paces[self._lingering]
        if pace is self._current or self._accumulator is None:
            return
        self._current = pace
        setattr(self._accumulator, _LINGER, pace.linger_s)
        setattr(self._accumulator, _COMPRESSION, self._attributes if pace.compressed else 0)
