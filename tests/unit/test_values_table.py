"""Every word and number format the receiver reads, as a table of exact expected values.

The platform sends text; these are the readings partners rely on (README, "What the receiver
accepts in values"). No I/O.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from catalog_contract.events import Availability, ChangeType
from receiver import values
from tests.zones import NEW_YORK, local_zone


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("created", ChangeType.CREATED),
        ("create", ChangeType.CREATED),
        ("added", ChangeType.CREATED),
        ("new", ChangeType.CREATED),
        ("updated", ChangeType.UPDATED),
        ("update", ChangeType.UPDATED),
        ("modified", ChangeType.UPDATED),
        ("changed", ChangeType.UPDATED),
        ("removed", ChangeType.REMOVED),
        ("remove", ChangeType.REMOVED),
        ("deleted", ChangeType.REMOVED),
        ("delete", ChangeType.REMOVED),
        # any case, spacing and separators
        ("REMOVED", ChangeType.REMOVED),
        (" Deleted ", ChangeType.REMOVED),
        ("Up-Date", ChangeType.UPDATED),
    ],
)
def test_every_change_type_word(word: str, expected: ChangeType) -> None:
    assert values.change_type(word) is expected


@pytest.mark.parametrize("word", ["gone", "archived", "", "create d x"])
def test_unknown_change_type_words_are_refused_naming_the_accepted_ones(word: str) -> None:
    with pytest.raises(ValueError, match=r"unknown change type .*created, updated or removed"):
        values.change_type(word)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("InStock", Availability.IN_STOCK),
        ("OutOfStock", Availability.OUT_OF_STOCK),
        ("SoldOut", Availability.OUT_OF_STOCK),
        ("sold out", Availability.OUT_OF_STOCK),
        ("LimitedAvailability", Availability.LIMITED_AVAILABILITY),
        ("limited_availability", Availability.LIMITED_AVAILABILITY),
        ("BackOrder", Availability.BACK_ORDER),
        ("back-order", Availability.BACK_ORDER),
        ("PreOrder", Availability.PRE_ORDER),
        ("PRE_ORDER", Availability.PRE_ORDER),
    ],
)
def test_every_availability_word(word: str, expected: Availability) -> None:
    assert values.availability(word) is expected


@pytest.mark.parametrize("word", ["Discontinued", "unknown", "in stock now"])
def test_unknown_availability_is_refused_naming_the_accepted_words(word: str) -> None:
    accepted = "InStock, OutOfStock, LimitedAvailability, BackOrder or PreOrder, in any case"
    with pytest.raises(ValueError, match=rf"unknown availability .*{accepted}"):
        values.availability(word)


def test_a_list_where_one_value_is_expected_is_refused() -> None:
    for parse in (values.text, values.price, values.availability, values.change_type):
        with pytest.raises(ValueError, match="expected a single value, got a list"):
            parse(["a", "b"])


def test_text_is_trimmed() -> None:
    assert values.text("  Enamel mug \n") == "Enamel mug"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0.0000"),
        ("99999999999999.9999", "99999999999999.9999"),  # the largest price the schema holds
        ("99,999,999,999,999.9999", "99999999999999.9999"),
        ("GBP 1,000", "1000.0000"),
        ("1.5 usd", "1.5000"),
    ],
)
def test_prices_up_to_the_schemas_size(text: str, expected: str) -> None:
    assert str(values.price(text)) == expected


@pytest.mark.parametrize("text", ["1234,567.00", "1,2345.00", ",123.00", "1,234,56", "1.234.567"])
def test_thousands_are_grouped_in_threes_or_the_price_is_ambiguous(text: str) -> None:
    with pytest.raises(ValueError, match="not a decimal price"):
        values.price(text)


@pytest.mark.parametrize("text", ["100000000000000", "100000000000000.00", "123,456,789,012,345"])
def test_a_price_too_large_for_the_schema_is_refused(text: str) -> None:
    # decimal(18, 4): 14 digits before the point at most
    with pytest.raises(ValueError, match="too large"):
        values.price(text)


# Unicode digits other than 0-9 (Arabic-Indic, fullwidth, Devanagari):
# Python's \d and Decimal() read them, but the platform sends plain digits, and a value no
# other reader of the topic's source would parse the same way is refused by name, not guessed.
@pytest.mark.parametrize(
    "text", ["\u0661\u0662\u0663", "\uff11\uff12.50", "\u0967,\u0968\u0969\u096a.00", "$\u0661"]
)
def test_a_price_in_digits_other_than_0_to_9_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a decimal price"):
        values.price(text)


@pytest.mark.parametrize("text", ["\u0661\u0665", "\uff11\uff15", "+\u0967"])
def test_an_integer_in_digits_other_than_0_to_9_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an integer"):
        values.integer(text, 0, 100)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("15", 15), ("100", 100), (" 7 ", 7)],
)
def test_integers_within_their_range(text: str, expected: int) -> None:
    assert values.integer(text, 0, 100) == expected


@pytest.mark.parametrize("text", ["-1", "101", "12.5", "ten", ""])
def test_integers_outside_their_range_or_not_whole_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"integer|outside"):
        values.integer(text, 0, 100)


@pytest.mark.parametrize(("text", "expected"), [("EUR", "EUR"), (" usd ", "USD"), ("jPy", "JPY")])
def test_currency_codes_are_read_in_upper_case(text: str, expected: str) -> None:
    assert values.currency(text) == expected


@pytest.mark.parametrize("text", ["EURO", "E1R", "€", "", "US"])
def test_anything_but_three_letters_is_not_a_currency(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        values.currency(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T10:00:00z", datetime(2026, 11, 27, 10, tzinfo=UTC)),  # lowercase zone
        ("2026-11-27t10:00:00z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T10:00:00-05:00", datetime(2026, 11, 27, 15, tzinfo=UTC)),
        ("2026-11-27T10:00:00.250+01:00", datetime(2026, 11, 27, 9, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
    ],
)
def test_dates_become_utc(text: str, expected: datetime) -> None:
    parsed = values.timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_a_time_without_zone_is_utc_whatever_the_machines_zone() -> None:
    with local_zone(NEW_YORK):
        _naive_and_zoned_times_are_utc()


def _naive_and_zoned_times_are_utc() -> None:
    assert time.localtime(0).tm_gmtoff == -5 * 3600  # the zone really is not UTC here
    parsed = values.timestamp("2026-11-27T10:00:00")
    assert parsed == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)
    zoned = values.timestamp("2026-07-01T10:00:00+02:00")  # summer: New York is UTC-4
    assert (zoned, zoned.utcoffset()) == (datetime(2026, 7, 1, 8, tzinfo=UTC), timedelta(0))


def test_comma_separated_and_list_values() -> None:
    assert values.string_list(" a ,b") == ("a", "b")
    assert values.string_list(["x, y", "", " z "]) == ("x, y", "z")  # a list is not split again
    assert values.string_list(",,") == ()


def test_prices_are_decimals_at_the_schemas_scale_so_equal_prices_are_equal() -> None:
    assert values.price("12.9") == values.price("12.90") == values.price("$12.9000")
    assert values.price("12.9").as_tuple() == Decimal("12.9000").as_tuple()
