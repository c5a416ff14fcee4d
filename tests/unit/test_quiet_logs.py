"""Repeated log lines are summarised: the first passes, repeats are counted per interval."""

from __future__ import annotations

import logging

from runtime_support.quiet_logs import Outage, RepeatSummary, StateChange


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, level: int = logging.ERROR, name: str = "aiokafka.conn") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("node 1",), None)


def test_an_outage_of_a_minute_at_20_lines_a_second_writes_two_lines() -> None:
    clock = Clock()
    summary = RepeatSummary(interval_s=30, clock=clock)
    passed = []
    for tick in range(60 * 20):
        clock.now = tick / 20
        line = record("Unable connect to %s")
        if summary.filter(line):
            passed.append((clock.now, getattr(line, "repeated", None)))
    # The first line, then one at 30 s saying 600 (599 held back, and itself).
    assert passed == [(0.0, None), (30.0, 600)]


def test_counts_are_exact_and_each_template_has_its_own() -> None:
    clock = Clock()
    summary = RepeatSummary(interval_s=10, clock=clock)
    assert summary.filter(record("a %s"))
    assert summary.filter(record("b %s"))
    clock.now = 1
    assert not summary.filter(record("a %s"))
    assert not summary.filter(record("a %s"))
    clock.now = 10.5
    again = record("a %s")
    assert summary.filter(again)
    assert (getattr(again, "repeated", None), getattr(again, "over_s", None)) == (3, 10.5)


def test_a_message_quiet_for_an_interval_is_new_again_and_info_lines_are_untouched() -> None:
    clock = Clock()
    summary = RepeatSummary(interval_s=10, clock=clock)
    assert summary.filter(record("lost %s"))
    clock.now = 25
    fresh = record("lost %s")
    assert summary.filter(fresh)
    assert not hasattr(fresh, "repeated")
    assert all(summary.filter(record("batch %s", logging.INFO)) for _ in range(5))


def test_an_outage_is_reported_when_it_starts_and_when_it_ends_once_each() -> None:
    outage = Outage()
    seen = [
        outage.observe(failing, now)
        for now, failing in [(0, False), (1, True), (2, True), (3, True), (7.5, False), (8, False)]
    ]
    assert seen == [
        None,
        StateChange(lost=True, lasted_s=0.0),
        None,
        None,
        StateChange(lost=False, lasted_s=6.5),
        None,
    ]
