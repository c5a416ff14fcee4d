"""Quiet logs during outages: a message that repeats is logged once, then summarised.

While a broker is down, aiokafka reports every failed connection and metadata attempt, ~20
lines a second. The first occurrence of a message (same logger, level and template) passes;
repeats within `interval_s` are counted, not written; the first repeat after the interval
passes with `repeated` (how many were held back) and `over_s`. A message not seen for a whole
interval starts afresh, so a new outage is reported at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

SUMMARY_INTERVAL_S = 30.0


@dataclass
class _Seen:
    window_start: float
    last: float
    held_back: int = 0


class RepeatSummary(logging.Filter):
    def __init__(
        self,
        interval_s: float = SUMMARY_INTERVAL_S,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.min_level = min_level
        self.clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is None or now - seen.last >= self.interval_s:
            self._seen[key] = _Seen(window_start=now, last=now)
            if len(self._seen) > 1000:  # templates are few; this only bounds a pathological case
                self._forget_older_than(now - self.interval_s)
            return True
        seen.last = now
        if now - seen.window_start < self.interval_s:
            seen.held_back += 1
            return False
        record.repeated = seen.held_back + 1  # this one included
        record.over_s = round(now - seen.window_start, 1)
        seen.window_start, seen.held_back = now, 0
        return True

    def _forget_older_than(self, moment: float) -> None:
        for key in [k for k, seen in self._seen.items() if seen.last < moment]:
            del self._seen[key]


@dataclass(frozen=True)
class StateChange:
    lost: bool  # False: recovered
    lasted_s: float  # for a recovery: how long the outage lasted


class Outage:
    """Turns a stream of "failing or not" observations into the two moments worth a log line:
    when it starts failing and when it stops, each once. Pure; the caller supplies the time."""

    def __init__(self) -> None:
        self.failing_since: float | None = None

    def observe(self, failing: bool, now: float) -> StateChange | None:
        if failing and self.failing_since is None:
            self.failing_since = now
            return StateChange(lost=True, lasted_s=0.0)
        if not failing and self.failing_since is not None:
            lasted, self.failing_since = now - self.failing_since, None
            return StateChange(lost=False, lasted_s=round(lasted, 1))
        return None
