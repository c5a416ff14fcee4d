"""ItemState <-> a flat table row, and rows -> the JSON the read API returns. Pure.

Prices are stored as integers of 1/10,000 (the schema's scale): exact, and sortable in SQL.
Times are stored as integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from catalog_contract.events import PRICE_SCALE, Availability
from projector.view import ItemState, Removed, price_text

ITEM_COLUMNS: tuple[str, ...] = (
    "catalog_id", "item_id", "name", "description", "manufacturer", "category", "labels", "url",
    "mobile_url", "image_url", "additional_image_urls", "current_price", "original_price",
    "discount_percentage", "currency", "stock_availability", "gtin", "mpn", "sku",
    "source_updated_at", "received_at", "last_event_id", "partition", "offset", "revision",
    "sale_ends_at", "shipping_cost",
)  # fmt: skip
_PRICES = ("current_price", "original_price", "shipping_cost")
_LISTS = ("labels", "additional_image_urls")
_TIMES = ("source_updated_at", "received_at", "sale_ends_at")


def price_units(price: Decimal | None) -> int | None:
    return None if price is None else int(price.scaleb(PRICE_SCALE))


def price_from_units(units: int | None) -> Decimal | None:
    return None if units is None else Decimal(units).scaleb(-PRICE_SCALE)


def micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def to_row(state: ItemState) -> tuple[Any, ...]:
    values: list[Any] = []
    for column in ITEM_COLUMNS:
        value = getattr(state, column)
        if column in _PRICES:
            value = price_units(value)
        elif column in _LISTS:
            value = None if value is None else json.dumps(list(value), ensure_ascii=False)
        elif column in _TIMES:
            value = micros(value)
        elif column == "stock_availability" and value is not None:
            value = value.value
        values.append(value)
    return tuple(values)


def from_row(row: tuple[Any, ...]) -> ItemState:
    fields: dict[str, Any] = dict(zip(ITEM_COLUMNS, row, strict=True))
    for column in _PRICES:
        fields[column] = price_from_units(fields[column])
    for column in _LISTS:
        fields[column] = None if fields[column] is None else tuple(json.loads(fields[column]))
    for column in _TIMES:
        fields[column] = from_micros(fields[column])
    if fields["stock_availability"] is not None:
        fields["stock_availability"] = Availability(fields["stock_availability"])
    return ItemState(**fields)


REMOVAL_COLUMNS = ("catalog_id", "item_id", "source_updated_at", "partition", "offset")


def removal_row(marker: Removed) -> tuple[Any, ...]:
    return (
        marker.catalog_id,
        marker.item_id,
        micros(marker.source_updated_at),
        marker.partition,
        marker.offset,
    )


def removal_from_row(row: tuple[Any, ...]) -> Removed:
    catalog_id, item_id, source_updated_at, partition, offset = row
    return Removed(catalog_id, item_id, from_micros(source_updated_at), partition, offset)


def item_json(state: ItemState) -> dict[str, Any]:
    return {
        "catalog_id": state.catalog_id,
        "item_id": state.item_id,
        "name": state.name,
        "description": state.description,
        "manufacturer": state.manufacturer,
        "category": state.category,
        "labels": None if state.labels is None else list(state.labels),
        "url": state.url,
        "mobile_url": state.mobile_url,
        "image_url": state.image_url,
        "additional_image_urls": None
        if state.additional_image_urls is None
        else list(state.additional_image_urls),
        "current_price": price_text(state.current_price),
        "original_price": price_text(state.original_price),
        "discount_percentage": state.discount_percentage,
        "currency": state.currency,
        "stock_availability": None
        if state.stock_availability is None
        else state.stock_availability.value,
        "gtin": state.gtin,
        "mpn": state.mpn,
        "sku": state.sku,
        "source_updated_at": None
        if state.source_updated_at is None
        else state.source_updated_at.isoformat(),
        "received_at": state.received_at.isoformat(),
        "sale_ends_at": None if state.sale_ends_at is None else state.sale_ends_at.isoformat(),
        "shipping_cost": price_text(state.shipping_cost),
        "last_event_id": state.last_event_id,
        "position": f"{state.partition}:{state.offset}",
        "revision": state.revision,
    }
