"""Each value's size and content limits, as a partner reads them in the 422. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from receiver import values


def _integer(raw: str) -> int:
    return values.integer(raw, 0, 100)


@pytest.mark.parametrize(
    ("parse", "limit", "what"),
    [
        (values.price, 64, "a price"),
        (_integer, 32, "an integer"),
        (values.availability, 64, "an availability"),
        (values.change_type, 64, "a change type"),
        (values.currency, 64, "a currency code"),
        (values.timestamp, 64, "a date-time"),
    ],
)
def test_a_value_longer_than_its_limit_is_refused_saying_what_it_should_be(
    parse: Callable[[str], Any], limit: int, what: str
) -> None:
    too_long = "1" * (limit + 1)
    with pytest.raises(
        ValueError, match=rf"^too long for {what}: {limit + 1} characters \(at most {limit}\)$"
    ):
        parse(too_long)
    # at the limit: refused for what it says, not for its length
    with pytest.raises(ValueError, match=r"^(?!too long)"):
        parse("x" * limit)


@pytest.mark.parametrize(("text", "expected"), [("20.0", 20), ("+42", 42), ("007", 7)])
def test_integers_with_a_sign_zeros_or_a_zero_fraction(text: str, expected: int) -> None:
    assert values.integer(text, 0, 100) == expected


def test_text_with_a_nul_character_is_refused_as_unstorable() -> None:
    for parse in (values.text, values.string_list):
        with pytest.raises(
            ValueError, match=r"^contains a NUL character \(\\u0000\), which cannot"
        ):
            parse("Mug\x00")


def test_a_time_that_leaves_the_calendar_in_utc_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^outside the years 1\.\.9999 in UTC: "):
        values.timestamp("9999-12-31T23:00:00-05:00")
