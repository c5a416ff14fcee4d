"""Turning the platform's text into typed values, and data points into one event. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog_contract.events import Availability, ChangeType
from receiver import formats, values
from receiver.errors import InvalidPostback, UnreadableBody
from receiver.postback import build_change

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.99", "12.9900"),
        ("1,299.00", "1299.0000"),
        ("$12.99", "12.9900"),
        ("€ 5", "5.0000"),
        ("12.99 EUR", "12.9900"),
        ("USD 0.125", "0.1250"),
        (" 7 ", "7.0000"),
    ],
)
def test_prices_are_exact_decimals(text: str, expected: str) -> None:
    parsed = values.price(text)
    assert isinstance(parsed, Decimal)
    assert str(parsed) == expected


@pytest.mark.parametrize("text", ["12,99", "1.299,00", "abc", "-5", "1e3", "12.99999", "1,29.00"])
def test_ambiguous_or_wrong_prices_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"decimal|places"):
        values.price(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("InStock", Availability.IN_STOCK),
        ("in stock", Availability.IN_STOCK),
        ("OUT_OF_STOCK", Availability.OUT_OF_STOCK),
        ("out-of-stock", Availability.OUT_OF_STOCK),
        ("LimitedAvailability", Availability.LIMITED_AVAILABILITY),
        ("backorder", Availability.BACK_ORDER),
        ("Pre Order", Availability.PRE_ORDER),
    ],
)
def test_availability_words_in_any_case(text: str, expected: Availability) -> None:
    assert values.availability(text) is expected


def test_dates_with_and_without_zone_become_utc() -> None:
    assert values.timestamp("2026-11-27T10:00:00+02:00") == datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert values.timestamp("2026-11-27T10:00:00Z") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert values.timestamp("2026-11-27T10:00:00") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO-8601"):
        values.timestamp("27/11/2026")


def test_lists_from_arrays_or_comma_separated_text() -> None:
    assert values.string_list("a, b,,c") == ("a", "b", "c")
    assert values.string_list(["a", " b "]) == ("a", "b")


def test_build_change_maps_platform_names_and_drops_empty_values() -> None:
    change = build_change(
        {
            "CatalogId": "42",
            "CatalogItemId": "sku-1",
            "CurrentPrice": "1,299.50",
            "StockAvailability": "in stock",
            "Name": "",
            "Labels": "new,sale",
            "ChangeType": "created",
        },
        NOW,
    )
    assert (change.catalog_id, change.catalog_item_id) == ("42", "sku-1")
    assert change.current_price == Decimal("1299.5000")
    assert change.stock_availability is Availability.IN_STOCK
    assert change.name is None
    assert change.labels == ("new", "sale")
    assert change.change_type is ChangeType.CREATED
    assert change.received_at == NOW


def test_build_change_names_every_bad_field() -> None:
    with pytest.raises(InvalidPostback) as caught:
        build_change(
            {"CatalogId": "4:2", "CurrentPrice": "cheap", "StockAvailability": "maybe"}, NOW
        )
    fields = [p.field for p in caught.value.problems]
    assert fields == ["CatalogItemId", "CurrentPrice", "StockAvailability", "CatalogId"]


def test_field_map_lets_a_template_use_its_own_keys() -> None:
    change = build_change(
        {"cat": "1", "item": "x", "price": "3.50"},
        NOW,
        {"cat": "CatalogId", "item": "CatalogItemId", "price": "CurrentPrice"},
    )
    assert (change.catalog_id, change.catalog_item_id, change.current_price) == (
        "1",
        "x",
        Decimal("3.5000"),
    )


def test_event_id_depends_on_content_not_on_receive_time() -> None:
    raw = {"CatalogId": "1", "CatalogItemId": "x", "CurrentPrice": "3.5"}
    first = build_change(raw, NOW)
    again = build_change({**raw, "CurrentPrice": "3.50"}, datetime(2027, 1, 1, tzinfo=UTC))
    other = build_change({**raw, "CurrentPrice": "3.51"}, NOW)
    assert first.event_id == again.event_id
    assert first.event_id != other.event_id


def test_every_format_gives_the_same_data_points() -> None:
    json_points = formats.parse_body(
        "application/json; charset=utf-8",
        b'{"CatalogId": "1", "CatalogItemId": "x", "Labels": ["a", "b"], "DiscountPercentage": 5}',
    )
    form_points = formats.parse_body(
        formats.FORM, b"CatalogId=1&CatalogItemId=x&Labels=a&Labels=b&DiscountPercentage=5"
    )
    xml_points = formats.parse_body(
        "text/xml",
        b"<postback><CatalogId>1</CatalogId><CatalogItemId>x</CatalogItemId>"
        b"<Labels><Label>a</Label><Label>b</Label></Labels>"
        b"<DiscountPercentage>5</DiscountPercentage></postback>",
    )
    expected = {
        "CatalogId": "1",
        "CatalogItemId": "x",
        "Labels": ["a", "b"],
        "DiscountPercentage": "5",
    }
    assert json_points == form_points == xml_points == expected


@pytest.mark.parametrize(
    ("content_type", "body", "status", "message"),
    [
        ("application/json", b"{not json", 400, "not valid JSON"),
        ("application/json", b"[1, 2]", 400, "must be an object"),
        ("application/json", b'{"Name": {"nested": 1}}', 422, "'Name'"),
        ("application/xml", b"<postback><a></postback>", 400, "not well-formed"),
        (
            "application/xml",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b"<postback><Name>&lol2;</Name></postback>",
            400,
            "DTDs and entities are not allowed",
        ),
        (
            "application/xml",
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><postback>&e;</postback>',
            400,
            "DTDs and entities are not allowed",
        ),
        ("text/plain", b"CatalogId=1", 415, "accepted: application/json"),
        (None, b"", 415, "(none)"),
    ],
)
def test_unreadable_bodies_say_why(
    content_type: str | None, body: bytes, status: int, message: str
) -> None:
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body(content_type, body)
    assert caught.value.status == status
    assert message in caught.value.reason
