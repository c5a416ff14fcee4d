"""Turning the platform's text values into typed ones. Pure functions; each raises ValueError
with a reason a partner can act on."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from catalog_contract.events import PRICE_PRECISION, PRICE_SCALE, Availability, ChangeType

RawValue = str | list[str]

# A currency symbol ($, €, £ ...) or ISO code before or after the number.
_LEADING_CURRENCY = re.compile(r"^(?:[A-Za-z]{3}|[^\w\s.,+-]+)\s*")
_TRAILING_CURRENCY = re.compile(r"\s*(?:[A-Za-z]{3}|[^\w\s.,+-]+)$")
_PLAIN_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_GROUPED_NUMBER = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_SCALE)
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")

_AVAILABILITY_WORDS = {
    "instock": Availability.IN_STOCK,
    "outofstock": Availability.OUT_OF_STOCK,
    "soldout": Availability.OUT_OF_STOCK,
    "limitedavailability": Availability.LIMITED_AVAILABILITY,
    "backorder": Availability.BACK_ORDER,
    "preorder": Availability.PRE_ORDER,
}
_CHANGE_WORDS = {
    "created": ChangeType.CREATED,
    "create": ChangeType.CREATED,
    "added": ChangeType.CREATED,
    "new": ChangeType.CREATED,
    "updated": ChangeType.UPDATED,
    "update": ChangeType.UPDATED,
    "modified": ChangeType.UPDATED,
    "changed": ChangeType.UPDATED,
    "removed": ChangeType.REMOVED,
    "remove": ChangeType.REMOVED,
    "deleted": ChangeType.REMOVED,
    "delete": ChangeType.REMOVED,
}


def _squash(word: str) -> str:
    """`In Stock`, `in_stock`, `IN-STOCK`, `InStock` -> `instock`."""
    return re.sub(r"[\s_\-]+", "", word).lower()


def text(raw: RawValue) -> str:
    if isinstance(raw, list):
        raise ValueError("expected a single value, got a list")
    return raw.strip()


def price(raw: RawValue) -> Decimal:
    """`12.99`, `1,299.00`, `$12.99`, `12.99 EUR` -> an exact Decimal (never a float)."""
    value = text(raw)
    number = _TRAILING_CURRENCY.sub("", _LEADING_CURRENCY.sub("", value))
    if not (_PLAIN_NUMBER.match(number) or _GROUPED_NUMBER.match(number)):
        raise ValueError(f"not a decimal price: {value!r} (expected e.g. '12.99' or '1,299.00')")
    try:
        amount = Decimal(number.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the patterns above exclude it
        raise ValueError(f"not a decimal price: {value!r}") from exc
    if amount.adjusted() >= PRICE_PRECISION - PRICE_SCALE:
        raise ValueError(f"too large: {value!r}")
    exact = amount.quantize(_PRICE_QUANTUM)
    if exact != amount:
        raise ValueError(f"more than {PRICE_SCALE} decimal places: {value!r}")
    return exact  # always at the schema's scale, so equal prices are equal Decimals


def integer(raw: RawValue, low: int, high: int) -> int:
    value = text(raw)
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not an integer: {value!r}") from exc
    if number != number.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    if not low <= number <= high:
        raise ValueError(f"{value} is outside {low}..{high}")
    return int(number)


def availability(raw: RawValue) -> Availability:
    value = text(raw)
    found = _AVAILABILITY_WORDS.get(_squash(value))
    if found is None:
        raise ValueError(
            f"unknown availability {value!r} (expected InStock, OutOfStock, "
            "LimitedAvailability, BackOrder or PreOrder, in any case)"
        )
    return found


def change_type(raw: RawValue) -> ChangeType:
    value = text(raw)
    found = _CHANGE_WORDS.get(_squash(value))
    if found is None:
        raise ValueError(f"unknown change type {value!r} (expected created, updated or removed)")
    return found


def timestamp(raw: RawValue) -> datetime:
    """ISO-8601 with or without a zone; without one it is taken as UTC."""
    value = text(raw)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def currency(raw: RawValue) -> str:
    value = text(raw).upper()
    if not _CURRENCY_CODE.match(value):
        raise ValueError(f"not an ISO 4217 currency code: {value!r}")
    return value


def string_list(raw: RawValue) -> tuple[str, ...]:
    """A JSON array, repeated form/query keys, or comma-separated text."""
    items = raw if isinstance(raw, list) else raw.split(",")
    return tuple(item.strip() for item in items if item.strip())
