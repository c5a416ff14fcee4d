"""Where the delivery statistics (`delivery`) keep one catalog's postbacks: time slots, each a
fixed histogram of the delivery delay over `BOUNDS_S`. Pure (no I/O).

A catalog holds 60 one-minute slots and 24 one-hour slots (rings, reused as time moves on) and
its since-start totals, so its memory is bounded; `CatalogSlots.add` is the hot path, once per
postback.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable

BOUNDS_S: tuple[float, ...] = (
    1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400,
)  # fmt: skip
LATE_S = 600.0  # the platform's promise: within about 10 minutes
VERY_LATE_S = 3600.0  # after this, partners are told to contact the platform's support
_SLOTS = len(BOUNDS_S) + 1  # the last one: over the largest bound


LATE = BOUNDS_S.index(LATE_S)  # buckets past this index hold delays over 10 minutes
VERY_LATE = BOUNDS_S.index(VERY_LATE_S)  # ... and past this one, over an hour
_OVER = len(BOUNDS_S)

# A used slot as another process ships it: start, received, buckets, delay sum, largest delay.
SlotFigures = tuple[int, int, tuple[int, ...], float, float]


class Slot:
    """One minute (or hour) of one catalog's postbacks. Lateness is read from the buckets (10
    minutes and an hour are bounds), so an event costs a count, a bucket and a sum."""

    __slots__ = ("buckets", "delay_sum", "max_delay", "received", "start")

    def __init__(self) -> None:
        self.start = -1  # the minute (or hour) number it holds; -1: never used
        self.received = 0
        self.buckets = [0] * _SLOTS
        self.delay_sum = 0.0
        self.max_delay = 0.0  # only kept for delays over the last bound

    def reset(self, start: int) -> None:
        self.start, self.received, self.delay_sum, self.max_delay = start, 0, 0.0, 0.0
        self.buckets = [0] * _SLOTS

    def add_slot(self, other: Slot) -> None:
        self.received += other.received
        self.delay_sum += other.delay_sum
        self.max_delay = max(self.max_delay, other.max_delay)
        buckets = self.buckets
        for index, count in enumerate(other.buckets):
            buckets[index] += count


class CatalogSlots:
    """Each postback is counted three times: in its minute's slot, its hour's slot, and the
    since-start totals. No slot is ever merged into another on the hot path, so the cost is the
    same for a busy catalog and for one that sends once a minute."""

    __slots__ = ("hours", "last_received_s", "minutes", "total")

    def __init__(self) -> None:
        self.minutes = [Slot() for _ in range(60)]
        self.hours = [Slot() for _ in range(24)]
        self.total = Slot()  # since start
        self.last_received_s = -math.inf

    def add(self, received_s: float, delay: float | None, since_start: bool = True) -> None:
        """The hot path: once per postback (see bench/delivery_stats.py). `since_start` False:
        a postback from before the start, read again to fill the windows (not the counters)."""
        if received_s > self.last_received_s:
            self.last_received_s = received_s
        bucket, seconds = -1, 0.0
        if delay is not None:
            seconds = delay if delay > 0.0 else 0.0  # a source clock ahead is not a negative delay
            bucket = bisect_left(BOUNDS_S, seconds)
        minute = int(received_s // 60)
        hour = minute // 60
        _bump(self.minutes[minute % 60], minute, bucket, seconds)
        _bump(self.hours[hour % 24], hour, bucket, seconds)
        if since_start:
            _bump(self.total, 0, bucket, seconds)


def _bump(slot: Slot, number: int, bucket: int, seconds: float) -> None:
    if slot.start != number:
        if slot.start > number:
            return  # older than what the ring still holds
        slot.reset(number)
    slot.received += 1
    if bucket >= 0:
        slot.buckets[bucket] += 1
        slot.delay_sum += seconds
        if bucket == _OVER and seconds > slot.max_delay:
            slot.max_delay = seconds


def figures(ring: list[Slot]) -> list[SlotFigures]:
    """A ring's used slots, for another process's ring of the same size to take (`merge`)."""
    return [(s.start, s.received, tuple(s.buckets), s.delay_sum, s.max_delay)
            for s in ring if s.start >= 0]  # fmt: skip


def merge(ring: list[Slot], found: Iterable[SlotFigures]) -> None:
    """Count another ring's slots here, as if its postbacks had been counted here: each place
    in a ring holds the newest minute (hour) that fell on it, in whatever order they came, so
    parts that each counted some of the postbacks add up to one process that counted them all."""
    for start, received, buckets, delay_sum, max_delay in found:
        slot = ring[start % len(ring)]
        if slot.start > start:
            continue  # older than what the ring still holds
        if slot.start < start:
            slot.reset(start)
        slot.received += received
        slot.delay_sum += delay_sum
        slot.max_delay = max(slot.max_delay, max_delay)
        mine = slot.buckets
        for index, count in enumerate(buckets[: len(mine)]):
            mine[index] += count


def quantile(buckets: list[int], q: float, max_delay: float) -> float | None:
    """The upper bound of the bucket holding the q-th delay; past the last bound, the largest
    delay seen. None when nothing was measured."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return BOUNDS_S[index] if index < len(BOUNDS_S) else max_delay
    raise AssertionError("unreachable: rank <= total")
