"""Every data point of a postback into its event field, and the event ids retries rely on.

No I/O. The table is written out by hand (not derived from receiver.postback.DATA_POINTS), so
renaming or dropping a data point, or changing how it is read, fails here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract.events import CONTENT_FIELDS, Availability, ChangeType
from receiver.errors import InvalidPostback
from receiver.postback import DATA_POINTS, EVENT_ID_NAMESPACE, build_change, event_id_for
from tests.zones import NEW_YORK, local_zone

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ITEM = {"CatalogId": "42", "CatalogItemId": "sku-1"}

# platform data point, text as sent, event field, value in the event
TABLE: list[tuple[str, str | list[str], str, Any]] = [
    ("CatalogId", "42", "catalog_id", "42"),
    ("CatalogItemId", "sku-1", "catalog_item_id", "sku-1"),
    ("ChangeType", "removed", "change_type", ChangeType.REMOVED),
    ("DateLastUpdated", "2026-11-27T10:00:00+01:00", "source_updated_at",
     datetime(2026, 11, 27, 9, tzinfo=UTC)),
    ("Name", " Enamel mug ", "name", "Enamel mug"),
    ("Description", "Blue, 0.5 l", "description", "Blue, 0.5 l"),
    ("Manufacturer", "Riess", "manufacturer", "Riess"),
    ("Category", "Kitchen > Mugs", "category", "Kitchen > Mugs"),
    ("Labels", "kitchen, sale", "labels", ("kitchen", "sale")),
    ("Labels", ["kitchen", "sale, summer"], "labels", ("kitchen", "sale, summer")),
    ("Url", "https://shop.example/m", "url", "https://shop.example/m"),
    ("MobileUrl", "https://m.shop.example/m", "mobile_url", "https://m.shop.example/m"),
    ("ImageUrl", "https://img.example/1.jpg", "image_url", "https://img.example/1.jpg"),
    ("AdditionalImageUrls", "https://img.example/2.jpg,https://img.example/3.jpg",
     "additional_image_urls", ("https://img.example/2.jpg", "https://img.example/3.jpg")),
    ("CurrentPrice", "$1,299.50", "current_price", Decimal("1299.5000")),
    ("OriginalPrice", "12.99 EUR", "original_price", Decimal("12.9900")),
    ("DiscountPercentage", "15", "discount_percentage", 15),
    ("Currency", "eur", "currency", "EUR"),
    ("StockAvailability", "out of stock", "stock_availability", Availability.OUT_OF_STOCK),
    ("Gtin", "04006381333931", "gtin", "04006381333931"),
    ("Mpn", "MUG-05-BL", "mpn", "MUG-05-BL"),
    ("Sku", "sku-1-blue", "sku", "sku-1-blue"),
    ("SaleEndDate", "2026-12-24T23:59:59Z", "sale_ends_at",
     datetime(2026, 12, 24, 23, 59, 59, tzinfo=UTC)),
    ("ShippingCost", "4.9", "shipping_cost", Decimal("4.9000")),
]  # fmt: skip


def test_the_table_covers_every_data_point_the_receiver_reads() -> None:
    assert {name for name, *_ in TABLE} == set(DATA_POINTS)


@pytest.mark.parametrize(("name", "text", "field", "expected"), TABLE)
def test_each_data_point_becomes_its_event_field(
    name: str, text: str | list[str], field: str, expected: Any
) -> None:
    change = build_change({**ITEM, name: text}, NOW)
    assert getattr(change, field) == expected
    # and only that field: every other one keeps its "not sent" value (but the currency of a
    # price written with its code, `12.99 EUR`, when Currency is not sent: stop 37)
    bare = build_change(ITEM, NOW)
    others = {f for _, _, f, _ in TABLE} - {field, "catalog_id", "catalog_item_id"}
    told = {"currency": "EUR"} if text == "12.99 EUR" else {}
    assert {f: getattr(change, f) for f in others} == {
        f: told.get(f, getattr(bare, f)) for f in others
    }


@pytest.mark.parametrize(("name", "text", "field", "expected"), TABLE)
def test_data_point_names_are_read_in_any_case(
    name: str, text: str | list[str], field: str, expected: Any
) -> None:
    # (in place of ITEM's own key: two keys naming one data point are refused, stop 37)
    item = {key: value for key, value in ITEM.items() if key != name}
    assert getattr(build_change({**item, name.upper(): text}, NOW), field) == expected


def test_without_change_type_a_postback_is_an_update() -> None:
    assert build_change(ITEM, NOW).change_type is ChangeType.UPDATED


@pytest.mark.parametrize(
    "name", ["Name", "CurrentPrice", "StockAvailability", "DateLastUpdated", "CatalogItemId"]
)
def test_a_list_for_a_single_valued_data_point_is_a_named_problem(name: str) -> None:
    with pytest.raises(InvalidPostback) as caught:
        build_change({**ITEM, name: ["1", "2"]}, NOW)
    assert [(p.field, p.reason) for p in caught.value.problems] == [
        (name, "expected a single value, got a list")
    ]


@pytest.mark.parametrize("empty", ["", "  ", [], ["", " "]])
def test_empty_values_and_empty_lists_are_not_sent(empty: str | list[str]) -> None:
    change = build_change({**ITEM, "Labels": empty, "Name": empty}, NOW)
    assert (change.labels, change.name) == (None, None)


@pytest.mark.parametrize(
    ("raw", "missing"),
    [
        ({"CatalogItemId": "sku-1"}, ["CatalogId"]),
        ({"CatalogId": "42"}, ["CatalogItemId"]),
        ({"CatalogId": " ", "CatalogItemId": ""}, ["CatalogId", "CatalogItemId"]),
        ({"Name": "Mug"}, ["CatalogId", "CatalogItemId"]),
    ],
)
def test_the_product_identity_is_required(raw: dict[str, str], missing: list[str]) -> None:
    with pytest.raises(InvalidPostback) as caught:
        build_change(raw, NOW)
    assert [p.field for p in caught.value.problems] == missing
    assert all("required" in p.reason for p in caught.value.problems)


def test_every_problem_keeps_its_parsers_reason() -> None:
    with pytest.raises(InvalidPostback) as caught:
        build_change({**ITEM, "Currency": "euro", "DiscountPercentage": "150"}, NOW)
    reasons = {p.field: p.reason for p in caught.value.problems}
    assert set(reasons) == {"Currency", "DiscountPercentage"}
    assert "ISO 4217" in reasons["Currency"]
    assert "150" in reasons["DiscountPercentage"]


def test_a_catalog_id_with_the_key_separator_is_refused_by_name() -> None:
    with pytest.raises(InvalidPostback) as caught:
        build_change({"CatalogId": "4:2", "CatalogItemId": "a:b"}, NOW)
    [problem] = caught.value.problems
    assert problem.field == "CatalogId"
    assert "':'" in problem.reason
    # an item id may hold the separator (the key splits at the first one)
    assert build_change({"CatalogId": "42", "CatalogItemId": "a:b"}, NOW).catalog_item_id == "a:b"


# Event ids are content-derived (README, "The topic"): a retried postback must get the same id
# forever, or the projector applies it twice. These ids were produced by the receiver; a change
# of the canonical form (field order, text of values, JSON spacing, escaping) changes them.
GOLDEN: list[tuple[dict[str, str], str]] = [
    (ITEM, "8f99a6f1-9d31-592f-b670-6e9b3b627fbe"),
    (
        {**ITEM, "Name": "Enamel mug", "CurrentPrice": "12.99", "Currency": "EUR",
         "StockAvailability": "InStock", "DateLastUpdated": "2026-11-27T10:00:00Z"},
        "ccf0df9a-fcc3-5a1d-a0e5-8b3c59d4b0e7",
    ),
    (
        {"CatalogId": "7", "CatalogItemId": "tasse:1", "Name": "Tasse à café",
         "Labels": "kitchen, sale", "ChangeType": "removed", "DiscountPercentage": "15",
         "DateLastUpdated": "2026-11-27T11:00:00+01:00", "OriginalPrice": "1,299.50"},
        "5279b801-4aea-5e46-aac8-988df7f195b6",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "event_id"), GOLDEN)
def test_event_ids_of_fixed_postbacks_never_change(raw: dict[str, str], event_id: str) -> None:
    assert str(build_change(raw, NOW).event_id) == event_id
    assert str(build_change(raw, datetime(2030, 1, 1, tzinfo=UTC)).event_id) == event_id


@pytest.mark.parametrize(("raw", "event_id"), GOLDEN)
def test_event_ids_do_not_depend_on_the_machines_time_zone(
    raw: dict[str, str], event_id: str
) -> None:
    naive = {**raw, "DateLastUpdated": raw.get("DateLastUpdated", "").removesuffix("Z")}
    with local_zone(NEW_YORK):
        assert str(build_change(raw, NOW).event_id) == event_id
        in_new_york = build_change(naive, NOW).event_id
    assert build_change(naive, NOW).event_id == in_new_york


def test_the_canonical_form_behind_event_ids_written_out() -> None:
    """The id is a UUIDv5 of the content fields' texts as compact JSON, in the event's field order
    (null for "not sent", non-ASCII kept as is)."""
    namespace = uuid.UUID("6f1c2a52-3f0e-4d7e-9a43-5c1b0d3e8f21")
    fields: list[str | None] = [None] * 23
    fields[0] = "Tasse à café"  # name
    fields[9] = "12.9900"  # current_price
    fields[19:23] = ["UPDATED", "7", "tasse:1", "2026-11-27 10:00:00+00:00"]
    canonical = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    assert canonical.startswith('["Tasse à café",null,null,')
    raw = {"CatalogId": "7", "CatalogItemId": "tasse:1", "Name": "Tasse à café",
           "CurrentPrice": "12.99", "DateLastUpdated": "2026-11-27T10:00:00Z"}  # fmt: skip
    assert build_change(raw, NOW).event_id == uuid.uuid5(namespace, canonical)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.none() | st.text(st.characters(blacklist_categories=["Cs"]), max_size=12),
        min_size=len(CONTENT_FIELDS),
        max_size=len(CONTENT_FIELDS),
    )
)
def test_event_ids_are_uuid5_of_json_dumps_whatever_the_text(texts: list[str | None]) -> None:
    """event_id_for writes the canonical form itself (faster than json.dumps): the same text
    for any characters, quotes, backslashes, controls and non-ASCII included."""
    content = dict(zip(CONTENT_FIELDS, texts, strict=True))
    canonical = json.dumps(texts, separators=(",", ":"), ensure_ascii=False)
    found, expected = event_id_for(content), uuid.uuid5(EVENT_ID_NAMESPACE, canonical)
    assert (found, str(found), found.version, found.variant) == (
        expected,
        str(expected),
        5,
        uuid.RFC_4122,
    )
