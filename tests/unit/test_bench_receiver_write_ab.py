"""bench.receiver_write_ab's report (pure; the servers and wrk are not started here)."""

from __future__ import annotations

from bench.receiver_write_ab import summary


def test_ratios_are_taken_within_each_round() -> None:
    assert summary([50.0, 40.0, 60.0], [45.0, 44.0, 30.0]) == (
        "server CPU µs/request, medians: two writes 50.0, one write 44.0; "
        "one / two per round: 0.900, 1.100, 0.500 (median 0.900)"
    )
