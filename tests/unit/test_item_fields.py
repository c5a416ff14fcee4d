"""The item's fields are defined once (catalog_contract.item_fields): the table agrees with the
schemas and the event dataclass, and the data points, stored columns and their SQL types are
derived from it. No I/O beyond reading the .avsc files."""

from __future__ import annotations

import typing
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from catalog_contract import schemas
from catalog_contract.events import PRODUCT_FIELDS, Availability, ProductFields
from catalog_contract.item_fields import ITEM_FIELDS, FieldKind, ItemField, names_of
from projector.answers import Item
from projector.rows import ITEM_COLUMNS, item_column_kinds
from projector.store_schema import item_column_type, schema_statements
from receiver import postback
from receiver.postback import DATA_POINTS

# The event's fields that are not the item's: who, what happened, when, which event.
ENVELOPE = (
    "event_id", "received_at", "source_updated_at", "change_type", "catalog_id", "catalog_item_id",
)  # fmt: skip


def _kind_in_avro(avro_type: Any) -> FieldKind:
    """An optional field's kind, read from its Avro type `["null", T]`."""
    assert isinstance(avro_type, list)
    null, inner = avro_type
    assert null == "null"
    if inner in ("string", "int", "long"):
        return {"string": FieldKind.TEXT, "int": FieldKind.INTEGER, "long": FieldKind.LONG}[inner]
    if inner == {"type": "array", "items": "string"}:
        return FieldKind.LIST
    if inner.get("logicalType") == "decimal" and inner["type"] == "bytes":
        return FieldKind.PRICE
    if inner == {"type": "long", "logicalType": "timestamp-micros"}:
        return FieldKind.TIME
    if inner.get("type") == "enum" and inner["name"] == "Availability":
        return FieldKind.AVAILABILITY
    raise AssertionError(f"no kind for {inner}")


def _item_fields_of(version: schemas.SchemaVersion) -> dict[str, FieldKind]:
    return {
        field["name"]: _kind_in_avro(field["type"])
        for field in version.definition["fields"]
        if field["name"] not in ENVELOPE
    }


def test_the_table_names_the_event_dataclass_fields_in_their_order() -> None:
    assert tuple(field.name for field in ITEM_FIELDS) == PRODUCT_FIELDS


def test_the_table_agrees_with_the_newest_schema_field_by_field() -> None:
    newest = _item_fields_of(schemas.current())
    assert {field.name: field.kind for field in ITEM_FIELDS} == newest


def test_each_field_is_dated_by_the_first_schema_version_that_has_it() -> None:
    first_seen: dict[str, int] = {}
    for version in schemas.all_versions():
        for name in _item_fields_of(version):
            first_seen.setdefault(name, version.version)
    assert {field.name: field.since for field in ITEM_FIELDS} == first_seen


PYTHON_TYPE_OF_KIND = {
    FieldKind.TEXT: str,
    FieldKind.LIST: tuple[str, ...],
    FieldKind.PRICE: Decimal,
    FieldKind.INTEGER: int,
    FieldKind.LONG: int,
    FieldKind.TIME: datetime,
    FieldKind.AVAILABILITY: Availability,
}


def test_the_table_agrees_with_the_dataclass_types() -> None:
    hints = typing.get_type_hints(ProductFields)
    for field in ITEM_FIELDS:
        assert hints[field.name] == PYTHON_TYPE_OF_KIND[field.kind] | None, field.name


def test_the_receiver_reads_the_envelope_then_each_item_field_under_its_data_point() -> None:
    assert [(name, field) for name, (field, _) in DATA_POINTS.items()] == [
        ("CatalogId", "catalog_id"),
        ("CatalogItemId", "catalog_item_id"),
        ("ChangeType", "change_type"),
        ("DateLastUpdated", "source_updated_at"),
        *((field.data_point, field.name) for field in ITEM_FIELDS),
    ]


@pytest.mark.parametrize(("kind", "bits"), [(FieldKind.INTEGER, 32), (FieldKind.LONG, 64)])
def test_a_plain_integer_field_is_read_within_its_avro_type(kind: FieldKind, bits: int) -> None:
    parse = postback._PARSER_OF_KIND[kind]
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    assert (parse(str(low)), parse(str(high))) == (low, high)
    for outside in (low - 1, high + 1):
        with pytest.raises(ValueError, match="outside"):
            parse(str(outside))


def test_the_fields_of_one_kind_in_table_order() -> None:
    assert names_of(FieldKind.PRICE) == ("current_price", "original_price", "shipping_cost")
    assert names_of(FieldKind.LIST) == ("labels", "additional_image_urls")


# The stored layout of schema v2 databases: a derived column list must keep it to the letter.
V2_COLUMNS = (
    "catalog_id", "item_id", "name", "description", "manufacturer", "category", "labels", "url",
    "mobile_url", "image_url", "additional_image_urls", "current_price", "original_price",
    "discount_percentage", "currency", "stock_availability", "gtin", "mpn", "sku",
    "source_updated_at", "received_at", "last_event_id", "partition", "offset", "revision",
    "sale_ends_at", "shipping_cost",
)  # fmt: skip
V2_BIG = {"current_price", "original_price", "source_updated_at", "received_at", "offset",
          "revision", "sale_ends_at", "shipping_cost"}  # fmt: skip


def test_the_stored_columns_keep_the_v2_layout() -> None:
    assert ITEM_COLUMNS == V2_COLUMNS


@pytest.mark.parametrize("big", ["INTEGER", "BIGINT"])
def test_the_items_table_keeps_its_v2_types(big: str) -> None:
    expected = {c: big if c in V2_BIG else "TEXT" for c in V2_COLUMNS}
    expected |= {"partition": "INTEGER", "discount_percentage": "INTEGER"}
    assert {c: item_column_type(c, big) for c in ITEM_COLUMNS} == expected
    columns = ", ".join(f'"{c}" {kind}' for c, kind in expected.items())
    assert schema_statements(big, "SERIAL")[0] == (
        f"CREATE TABLE IF NOT EXISTS items ({columns}, PRIMARY KEY (catalog_id, item_id))"
    )


def test_a_later_version_s_field_is_stored_after_every_earlier_column() -> None:
    v3 = (*ITEM_FIELDS, ItemField("gift_wrap", FieldKind.TEXT, "GiftWrap", since=3))
    assert tuple(item_column_kinds(v3)) == (*V2_COLUMNS, "gift_wrap")


def test_the_read_api_documents_every_stored_column() -> None:
    """The `Item` answer model is written out (it is documentation, see projector.answers): a
    field added to the table but not to it fails here."""
    shown = (set(ITEM_COLUMNS) - {"partition", "offset"}) | {"position"}
    assert set(Item.model_fields) == shown
