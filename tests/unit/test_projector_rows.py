"""Stored rows <-> item states, and rows -> what the read API shows. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog_contract.events import Availability
from projector.item_fold import ItemState, price_text
from projector.rows import from_row, item_json, price_from_units, price_text_of_units, to_row

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
