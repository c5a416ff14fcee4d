"""What the platform can say about a catalog item: each field once, with its kind and its data
point. Pure.

The receiver's data-point table, the projector's item columns (their order, their SQL types,
how each is stored and shown) are derived from `ITEM_FIELDS`. A new optional field (schema v3)
is written in the `.avsc`, in `events.ProductFields` and here, and nowhere else;
tests/unit/test_item_fields.py holds this table against both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FieldKind(enum.StrEnum):
    """How a field's value is written, parsed and stored (its Avro type, in words)."""

    TEXT = "text"  # string
    LIST = "list"  # array of strings
    PRICE = "price"  # decimal, events.PRICE_SCALE digits after the point
    INTEGER = "integer"  # int (32 bits)
    LONG = "long"  # long (64 bits)
    TIME = "time"  # timestamp-micros, UTC
    AVAILABILITY = "availability"  # the Availability enum


@dataclass(frozen=True, slots=True)
class ItemField:
    name: str  # the event's field, and the view's column
    kind: FieldKind
    data_point: str  # the platform's name for it in a postback
    since: int = 1  # the schema version that added it: stored columns keep that order


_T, _L, _P = FieldKind.TEXT, FieldKind.LIST, FieldKind.PRICE

ITEM_FIELDS: tuple[ItemField, ...] = (
    ItemField("name", _T, "Name"),
    ItemField("description", _T, "Description"),
    ItemField("manufacturer", _T, "Manufacturer"),
    ItemField("category", _T, "Category"),
    ItemField("labels", _L, "Labels"),
    ItemField("url", _T, "Url"),
    ItemField("mobile_url", _T, "MobileUrl"),
    ItemField("image_url", _T, "ImageUrl"),
    ItemField("additional_image_urls", _L, "AdditionalImageUrls"),
    ItemField("current_price", _P, "CurrentPrice"),
    ItemField("original_price", _P, "OriginalPrice"),
    ItemField("discount_percentage", FieldKind.INTEGER, "DiscountPercentage"),
    ItemField("currency", _T, "Currency"),
    ItemField("stock_availability", FieldKind.AVAILABILITY, "StockAvailability"),
    ItemField("gtin", _T, "Gtin"),
    ItemField("mpn", _T, "Mpn"),
    ItemField("sku", _T, "Sku"),
    # The platform has no placeholder of these names: a deployment maps its own data points
    # onto them (the receiver's field_map).
    ItemField("sale_ends_at", FieldKind.TIME, "SaleEndDate", since=2),
    ItemField("shipping_cost", _P, "ShippingCost", since=2),
)
"""In the order of `events.ProductFields`."""


def names_of(kind: FieldKind) -> tuple[str, ...]:
    """The item fields of one kind, in table order."""
    return tuple(field.name for field in ITEM_FIELDS if field.kind is kind)
