"""The read API's parameter parsers: exact values, and a bounded answer for hostile text."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import Availability
from projector.params import (
    MAX_INT64,
    BadParameter,
    availability,
    like_pattern,
    moment_micros,
    position,
    price_units,
    sequence,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("12.99", 129_900),
        ("0", 0),
        ("7.5", 75_000),
        ("0.0001", 1),
        ("99999999999999.9999", 999_999_999_999_999_999),
    ],
)
def test_prices_become_exact_store_units(text: str, units: int) -> None:
    assert price_units("min_price", text) == units
    assert units <= MAX_INT64


@pytest.mark.parametrize(
    "text",
    ["1e999995", "NaN", "sNaN", "Infinity", "-1", "1.00001", "", " 1", "١٢", "1" * 15, "0x1"],
)
def test_prices_that_are_not_plain_bounded_decimals_are_refused(text: str) -> None:
    with pytest.raises(BadParameter) as refused:
        price_units("max_price", text)
    assert refused.value.name == "max_price"


def test_positions_are_ascii_digits_within_the_stores_integers() -> None:
    assert position("min_position", "3:120") == (3, 120)
    assert position("min_position", f"999999999:{10**18 - 1}") == (999_999_999, 10**18 - 1)
    for text in (
        "²:0",
        "0:²",
        f"0:{MAX_INT64 + 1}",
        f"{2**31}:0",
        "3",
        ":1",
        "1:",
        "soon",
        "1:2:3",
    ):
        with pytest.raises(BadParameter, match="min_position"):
            position("min_position", text)


def test_sequences_stay_below_two_to_the_63() -> None:
    assert sequence("after", "0") == 0
    assert sequence("after", str(MAX_INT64)) == MAX_INT64
    # The stream documents Last-Event-ID as up to 20 characters: a zero-padded id that long is
    # still the sequence it names (schemathesis found 20 zeros refused against the document).
    assert sequence("last-event-id", "0" * 20) == 0
    assert sequence("last-event-id", "0" + str(MAX_INT64)) == MAX_INT64
    for text in (str(MAX_INT64 + 1), "1" * 4000, "-1", "٣", ""):
        with pytest.raises(BadParameter):
            sequence("after", text)


def test_times_need_a_zone_and_fit_the_store() -> None:
    assert moment_micros("updated_since", "1970-01-01T00:00:01Z") == 1_000_000
    assert moment_micros("updated_since", "1970-01-01t00:00:01.5z") == 1_500_000
    assert moment_micros("updated_since", "1972-06-30T23:59:60Z") == 78_796_800_000_000
    assert moment_micros("updated_since", "2026-11-27T12:00:00+01:00") == 1_795_777_200_000_000
    # Before datetime.min in UTC, and still an exact answer: every item is newer.
    assert moment_micros("updated_since", "0001-01-01T00:00:00+14:00") == -62_135_647_200_000_000
    for text, reason in (
        ("2026-11-27T12:00:00", "time zone"),
        ("yesterday", "ISO-8601"),
        ("2026-11-27T12:00:00Z" + " " * 100, "longer than"),
    ):
        with pytest.raises(BadParameter, match=reason):
            moment_micros("updated_since", text)


def test_availability_in_any_case_and_only_known_words() -> None:
    assert availability("availability", "in_stock") is Availability.IN_STOCK
    with pytest.raises(BadParameter, match="IN_STOCK"):
        availability("availability", "plenty")


def test_like_wildcards_in_a_name_search_match_only_themselves() -> None:
    assert like_pattern("50%_Off\\") == "%50\\%\\_off\\\\%"


@given(st.text(max_size=64))
def test_any_text_is_parsed_or_refused_with_the_parameters_name(text: str) -> None:
    for parse in (price_units, position, sequence, moment_micros, availability):
        refused: BadParameter | None = None
        try:
            parse("p", text)
        except BadParameter as exc:
            refused = exc
        assert refused is None or refused.name == "p"


def test_the_worst_allowed_price_text_parses_in_well_under_a_second() -> None:
    started = time.perf_counter()
    for text in ("9" * 4096, "1e999995", "1" + " " * 4000 + "1", "9" * 14 + "." + "9" * 4000):
        with pytest.raises(BadParameter):
            price_units("min_price", text)
    assert time.perf_counter() - started < 2  # microseconds of work; the machine is shared


def test_a_leap_second_only_where_one_can_be() -> None:
    """RFC 3339's second 60 exists only as the last second of a UTC day (23:59:60Z, or that
    instant in another zone); elsewhere it is a wrong time, refused, not the next minute."""
    assert moment_micros("updated_since", "1972-07-01T01:59:60+02:00") == 78_796_800_000_000
    assert moment_micros("updated_since", "1972-06-30T18:29:60.5-05:30") == 78_796_800_500_000
    for text in ("2026-11-27T12:10:60Z", "1972-06-30T23:59:60+01:00", "1972-06-30T23:58:60Z"):
        with pytest.raises(BadParameter, match="leap second"):
            moment_micros("updated_since", text)
