"""--from / --until of the replay and dead-letter commands: text -> a bound. No I/O."""

from __future__ import annotations

import pytest

from catalog_stream.replay_bounds import (
    Bound,
    BoundError,
    check_order,
    future_refusal,
    offsets_refusal,
    parse_bound,
)


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


NOW_MS = 1_795_773_600_000  # 2026-11-27T10:00:00Z


def _check(start: str, stop: str) -> None:
    check_order(parse_bound(start, "earliest"), parse_bound(stop, "now"))


@pytest.mark.parametrize(
    ("start", "stop", "reason"),
    [
        (
            "2026-11-27T09:00Z",
            "2026-11-27T08:59Z",
            "--until 2026-11-27T08:59Z is before --from 2026-11-27T09:00Z",
        ),
        ("0:5,1:9", "1:8,0:7", "--until 1:8 is before --from 1:9 on partition 1"),
    ],
)
def test_bounds_that_hold_nothing_whatever_the_topic_are_refused(
    start: str, stop: str, reason: str
) -> None:
    """attack33: each exited 0 having replayed nothing."""
    with pytest.raises(BoundError) as refused:
        _check(start, stop)
    assert str(refused.value) == reason


@pytest.mark.parametrize(
    ("start", "stop"),
    [
        ("2026-11-27T10:00:01Z", "now"),  # past the clock: only Kafka tells (future_refusal)
        ("2026-11-27T09:00Z", "2026-11-27T09:00Z"),  # empty, as asked
        ("0:5", "0:5"),
        ("0:5", "1:2"),  # different partitions: partition 1 is read from its start
        ("0:5", "2026-11-27T09:00Z"),  # only the topic's offsets tell (offsets_refusal)
        ("earliest", "2099-01-01T00:00Z"),  # an --until to come stops at the end at the start
    ],
)
def test_bounds_that_may_hold_records_pass(start: str, stop: str) -> None:
    _check(start, stop)


def test_a_from_time_past_the_clock_is_refused_once_kafka_found_no_record_at_it() -> None:
    """(read_range asks only when no partition has a record at or after the --from: attack33,
    a producer's clock ahead of this one's put records there, and the clock alone refused.)"""
    assert future_refusal(parse_bound("2026-11-27T10:00:01Z", "earliest"), NOW_MS) == (
        "--from 2026-11-27T10:00:01Z is in the future (now is 2026-11-27T10:00:00+00:00): "
        "no record is at or after it"
    )
    assert future_refusal(parse_bound("2026-11-27T10:00:00Z", "earliest"), NOW_MS) is None
    assert future_refusal(parse_bound("0:5", "earliest"), NOW_MS) is None


def test_a_start_past_a_partitions_end_names_the_partition_the_offset_and_the_end() -> None:
    ends = {0: 3, 1: 10}
    refused = offsets_refusal({1: 11}, {0: 0, 1: 11}, ends, ends)
    assert refused == (
        "position 1:11 is past the end of partition 1, which ends at 10 (its next record will "
        "have that offset): nothing was read"
    )
    assert offsets_refusal({1: 10}, {0: 0, 1: 10}, ends, ends) is None  # the end: nothing yet
    assert offsets_refusal({}, {}, {0: 0, 1: 0}, ends) is None  # from earliest: never


def test_an_until_before_the_from_once_both_are_offsets() -> None:
    ends = {0: 3, 1: 10}
    assert offsets_refusal({0: 2}, {0: 2, 1: 0}, {0: 0, 1: 10}, ends) == (
        "--until is before --from on partition 0: offset 0, before 2"
    )
    assert (
        offsets_refusal({0: 2}, {0: 2, 1: 0}, {0: 2, 1: 99}, ends) is None
    )  # past the end: capped
