"""Stored rows <-> item states, and rows -> what the read API shows. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import Availability
from projector import rows as rows_module
from projector.item_fold import price_text
from projector.item_state import ItemState
from projector.rows import (
    ITEM_COLUMNS,
    from_micros,
    from_row,
    item_json,
    price_from_units,
    price_text_of_units,
    to_row,
)

STATE = ItemState(
    catalog_id="42",
    item_id="sku-1",
    last_event_id="0b7e1a52-5c1e-5d5e-9a4b-3c2d1e0f9a8b",
    received_at=datetime(2026, 11, 27, 12, 0, 1, 250, tzinfo=UTC),
    partition=3,
    offset=1234,
    revision=2,
    source_updated_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    name="Mug",
    labels=("kitchen", "sale"),
    current_price=Decimal("1299.9000"),
    original_price=Decimal("0.1250"),
    discount_percentage=15,
    currency="EUR",
    stock_availability=Availability.LIMITED_AVAILABILITY,
    shipping_cost=Decimal("0"),
)


def test_a_state_survives_its_row() -> None:
    assert from_row(to_row(STATE)) == STATE


def test_the_read_api_shows_an_item_straight_from_its_row() -> None:
    assert item_json(to_row(STATE)) == {
        "catalog_id": "42",
        "item_id": "sku-1",
        "name": "Mug",
        "description": None,
        "manufacturer": None,
        "category": None,
        "labels": ["kitchen", "sale"],
        "url": None,
        "mobile_url": None,
        "image_url": None,
        "additional_image_urls": None,
        "current_price": "1299.90",
        "original_price": "0.125",
        "discount_percentage": 15,
        "currency": "EUR",
        "stock_availability": "LIMITED_AVAILABILITY",
        "gtin": None,
        "mpn": None,
        "sku": None,
        "source_updated_at": "2026-11-27T12:00:00+00:00",
        "received_at": "2026-11-27T12:00:01.000250+00:00",
        "last_event_id": "0b7e1a52-5c1e-5d5e-9a4b-3c2d1e0f9a8b",
        "position": "3:1234",
        "revision": 2,
        "sale_ends_at": None,
        "shipping_cost": "0.00",
    }


@pytest.mark.parametrize(
    "units", [None, 0, 1, 10, 100, 1_000, 10_000, 1_299_000, 1_250, 99_999_999, -1_250, -10_000]
)
def test_price_text_in_integers_matches_the_decimal_one(units: int | None) -> None:
    assert price_text_of_units(units) == price_text(price_from_units(units))


# The store's times: any signed 64-bit count of microseconds (most outside datetime's years).
MICROS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999),  # years 1 .. 9999
    st.sampled_from([0, -1, 1, -62_135_596_800_000_000, 253_402_300_799_999_999]),
)


def _outcome(make: Callable[[], object]) -> object:
    try:
        return make()
    except (ValueError, OverflowError, OSError) as exc:
        return type(exc)


@given(MICROS)
def test_a_time_is_shown_as_datetime_shows_it(value: int) -> None:
    """The fast formatting of times says what `datetime.isoformat` says, or fails as it does."""
    row = list(to_row(STATE))
    row[ITEM_COLUMNS.index("received_at")] = value
    shown = _outcome(lambda: item_json(tuple(row))["received_at"])
    assert shown == _outcome(lambda: from_micros(value).isoformat())  # type: ignore[union-attr]


def test_the_dates_remembered_are_bounded_and_stay_right() -> None:
    """Dates are looked up by day: more days than are kept, each shown twice (before and after
    the memory is cleared), still say what datetime says."""
    row = list(to_row(STATE))
    at = ITEM_COLUMNS.index("received_at")
    step = 86_400_000_000 + 3_723_000_017  # a day, an hour, two minutes, three seconds, 17 us
    values = [-(10**15) + n * step for n in range(5_000)]
    for value in values + values[::-1]:
        row[at] = value
        assert item_json(tuple(row))["received_at"] == from_micros(value).isoformat()  # type: ignore[union-attr]
    assert 0 < len(rows_module._DATES) <= rows_module._DATES_MAX


def test_times_with_and_without_microseconds_and_before_the_epoch() -> None:
    row = list(to_row(STATE))
    at = ITEM_COLUMNS.index("sale_ends_at")
    for value, text in [
        (0, "1970-01-01T00:00:00+00:00"),
        (-1, "1969-12-31T23:59:59.999999+00:00"),
        (-62_135_596_800_000_000, "0001-01-01T00:00:00+00:00"),
        (1_795_738_140_000_001, "2026-11-27T00:09:00.000001+00:00"),
    ]:
        row[at] = value
        assert item_json(tuple(row))["sale_ends_at"] == text


def test_a_row_of_another_width_is_refused() -> None:
    with pytest.raises(ValueError, match="columns"):
        item_json(to_row(STATE)[:-1])
