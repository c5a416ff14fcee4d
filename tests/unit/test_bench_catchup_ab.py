"""The catch-up A/B's summary line (bench.projector_catchup_ab): B's rate over A's per round,
and their median."""

from __future__ import annotations

from bench.projector_catchup_ab import ratios


def test_ratios_are_b_over_a_per_round_with_their_median() -> None:
    assert ratios([4000.0, 5000.0, 2000.0], [5000.0, 5000.0, 3000.0]) == (
        "median 1.25x (rounds: 1.25, 1.00, 1.50)"
    )


def test_an_even_number_of_rounds_takes_the_middle_two() -> None:
    assert ratios([100.0, 100.0], [99.0, 145.0]) == "median 1.22x (rounds: 0.99, 1.45)"
