"""--from / --until of the replay and dead-letter commands: text -> a bound. No I/O."""

from __future__ import annotations

import pytest

from catalog_stream.replay_bounds import Bound, BoundError, parse_bound


def test_the_open_end_is_its_word() -> None:
    assert parse_bound(" earliest ", "earliest") == Bound("edge")
    assert parse_bound("now", "now") == Bound("edge")


def test_positions_per_partition() -> None:
    assert parse_bound("0:5", "earliest") == Bound("positions", positions={0: 5})
    assert parse_bound("0:5, 3:120", "now") == Bound("positions", positions={0: 5, 3: 120})


def test_a_time_in_milliseconds_utc_when_no_zone_is_given() -> None:
    assert parse_bound("2026-11-27T10:00:00Z", "now") == Bound("time", time_ms=1_795_773_600_000)
    assert parse_bound("2026-11-27T11:00:00+01:00", "now").time_ms == 1_795_773_600_000
    assert parse_bound("2026-11-27T10:00:00", "now").time_ms == 1_795_773_600_000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0:5,x:1", "'x:1' is not partition:offset"),
        ("0:²", "'0:²' is not partition:offset"),  # a digit to str.isdigit, not to int()
        ("0:5,", "'' is not partition:offset"),
        ("yesterday", "'yesterday' is not 'now', an ISO-8601 time, or partition:offset"),
        ("1969-12-31T23:59:59Z", "before 1970-01-01"),
    ],
)
def test_anything_else_is_a_usage_error_naming_it(text: str, reason: str) -> None:
    with pytest.raises(BoundError) as refused:
        parse_bound(text, "now")
    assert reason in str(refused.value)
