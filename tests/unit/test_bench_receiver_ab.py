"""bench.receiver_ab's report: same-round ratios of the working tree to the revision and the
baseline (pure; the servers and wrk are not started here)."""

from __future__ import annotations

from bench.receiver_ab import BASELINE, NEW, OLD, ratio_lines, row_line
from bench.receiver_rounds import Row


def row(name: str, rate: float, c: int = 64) -> Row:
    return Row(name, c, rate, 10.0, 20.0, 30.0, 0, 0.3, 0.02, 0.05)


def test_ratios_are_taken_within_each_round() -> None:
    raw = [
        row(BASELINE, 1000),
        row(OLD, 2000),
        row(NEW, 3000),
        row(NEW, 1500),  # round two starts elsewhere: order within a round does not matter
        row(BASELINE, 3000),
        row(OLD, 1000),
        row(OLD, 4000),
        row(NEW, 2000),
        row(BASELINE, 2000),
    ]
    assert ratio_lines(raw, 3) == [
        f"{NEW} / {OLD}, c=64: median 1.50x (rounds: 1.50, 1.50, 0.50)",
        f"{NEW} / {BASELINE}, c=64: median 1.00x (rounds: 3.00, 0.50, 1.00)",
    ]


def test_row_line() -> None:
    assert row_line(row(NEW, 2345.6)) == (
        "working tree   c=64       2346/s p50   10.0 p99    20.0 ms, CPU s/1000 0.300, errors 0"
    )
