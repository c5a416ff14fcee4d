"""The typed product change event: what one Avro value on the product topic means."""

from __future__ import annotations

import dataclasses
import enum
import operator
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from catalog_contract import generated_reader
from catalog_contract.frozen_build import builder
from catalog_contract.item_fields import FieldKind, names_of

PRICE_SCALE = 4
"""Prices are Avro decimals with this many digits after the point (3-decimal currencies fit)."""
PRICE_PRECISION = 18


class ChangeType(enum.StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    REMOVED = "REMOVED"


class Availability(enum.StrEnum):
    IN_STOCK = "IN_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    LIMITED_AVAILABILITY = "LIMITED_AVAILABILITY"
    BACK_ORDER = "BACK_ORDER"
    PRE_ORDER = "PRE_ORDER"
    UNKNOWN = "UNKNOWN"  # never written; what an old reader sees for a newer symbol


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductFields:
    """What the platform can say about a catalog item. `None` means "not sent" in an event and
    "not known" in a view; never "cleared". Each field's kind and data point: item_fields."""

    name: str | None = None
    description: str | None = None
    manufacturer: str | None = None
    category: str | None = None
    labels: tuple[str, ...] | None = None
    url: str | None = None
    mobile_url: str | None = None
    image_url: str | None = None
    additional_image_urls: tuple[str, ...] | None = None
    current_price: Decimal | None = None
    original_price: Decimal | None = None
    discount_percentage: int | None = None
    currency: str | None = None
    stock_availability: Availability | None = None
    gtin: str | None = None
    mpn: str | None = None
    sku: str | None = None
    # schema v2
    sale_ends_at: datetime | None = None
    shipping_cost: Decimal | None = None


PRODUCT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ProductFields))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductChange(ProductFields):
    """One change to one catalog item."""

    event_id: uuid.UUID
    received_at: datetime
    change_type: ChangeType
    catalog_id: str
    catalog_item_id: str
    source_updated_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        """The dict fastavro writes (enums as symbols, lists as lists). Every field is read in
        one C call; only the fields typed as an enum or a list can need converting."""
        record = dict(zip(_FIELD_NAMES, _ALL_FIELDS(self), strict=True))
        for name in _CONVERTED_FIELDS:
            value = record[name]
            if isinstance(value, enum.Enum):
                record[name] = value.value
            elif isinstance(value, tuple):
                record[name] = list(value)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ProductChange:
        """Build from a record fastavro read; fields unknown to this class are ignored.
        Per record of a catch-up, so nothing is worked out here that can be worked out once
        (the field names: dataclasses.fields() was half of this method's time)."""
        if cls is ProductChange and record.keys() >= _REQUIRED:
            return _from_full_record(record)
        known = _FIELD_SET if cls is ProductChange else _field_set(cls)
        values = {k: v for k, v in record.items() if k in known}
        values["change_type"] = _member(ChangeType, _CHANGE_TYPES, values["change_type"])
        if (availability := values.get("stock_availability")) is not None:
            values["stock_availability"] = _member(Availability, _AVAILABILITY, availability)
        for name in _LIST_FIELDS:
            if (items := values.get(name)) is not None:
                values[name] = tuple(items)
        event_id = values["event_id"]
        if not isinstance(event_id, uuid.UUID):
            values["event_id"] = uuid.UUID(event_id)
        return cls(**values)


_E = TypeVar("_E", bound=enum.Enum)


def _field_set(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _member(kind: type[_E], members: dict[object, _E], value: object) -> _E:
    """`kind(value)`, by a dict lookup for the usual value; anything else (unhashable, unknown)
    goes through `kind(value)` itself, for its own answer or error."""
    try:
        return members[value]
    except (KeyError, TypeError):
        return kind(value)


_CHANGE_TYPES: dict[object, ChangeType] = {m.value: m for m in ChangeType}
_AVAILABILITY: dict[object, Availability] = {m.value: m for m in Availability}


def availability_of(value: object) -> Availability:
    """`Availability(value)`, by a dict lookup for a known symbol (per record of a catch-up and
    per row read back); anything else gets `Availability`'s own answer or error."""
    return _member(Availability, _AVAILABILITY, value)


_LIST_FIELDS = names_of(FieldKind.LIST)
_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ProductChange))
_ALL_FIELDS = operator.attrgetter(*_FIELD_NAMES)
_CONVERTED_FIELDS = ("change_type", *names_of(FieldKind.AVAILABILITY), *_LIST_FIELDS)
_FIELD_SET = frozenset(_FIELD_NAMES)


def record_value(value: Any) -> Any:
    """A converted field's value as `to_record` gives it (its loop, inline there)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


RECORD_CONVERSIONS = dict.fromkeys(_CONVERTED_FIELDS, record_value)
"""What `to_record` converts, field by field (the codec writes events without the record)."""
_REQUIRED = frozenset(
    f.name
    for f in dataclasses.fields(ProductChange)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_OPTIONAL_DEFAULTS = {
    f.default for f in dataclasses.fields(ProductChange) if f.name not in _REQUIRED
}
assert {None} == _OPTIONAL_DEFAULTS  # so `record.get` gives each missing field its default
_BUILD = builder(ProductChange)
_CHANGE_TYPE_AT = _FIELD_NAMES.index("change_type")
_AVAILABILITY_AT = _FIELD_NAMES.index("stock_availability")
_LISTS_AT = tuple(_FIELD_NAMES.index(name) for name in _LIST_FIELDS)
_EVENT_ID_AT = _FIELD_NAMES.index("event_id")


def _from_full_record(record: dict[str, Any]) -> ProductChange:
    """`from_record` of a record with every required field (fastavro's always has them): each
    field's value by one C call, converted in the same order, built without `__init__`."""
    values = list(map(record.get, _FIELD_NAMES))
    values[_CHANGE_TYPE_AT] = _member(ChangeType, _CHANGE_TYPES, values[_CHANGE_TYPE_AT])
    if (availability := values[_AVAILABILITY_AT]) is not None:
        values[_AVAILABILITY_AT] = _member(Availability, _AVAILABILITY, availability)
    for at in _LISTS_AT:
        if (items := values[at]) is not None:
            values[at] = tuple(items)
    event_id = values[_EVENT_ID_AT]
    if not isinstance(event_id, uuid.UUID):
        values[_EVENT_ID_AT] = uuid.UUID(event_id)
    return _BUILD(*values)


CONTENT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(ProductChange) if f.name not in ("event_id", "received_at")
)
"""Fields that say what changed (everything but the receiver's own metadata)."""


_READ_AS: dict[str, Mapping[str, Any]] = {
    "change_type": {m.value: m for m in ChangeType},
    **{name: {m.value: m for m in Availability} for name in names_of(FieldKind.AVAILABILITY)},
}


def value_reader(
    writer: dict[str, Any], reader: dict[str, Any]
) -> Callable[[bytes], ProductChange] | None:
    """`from_record` of fastavro's record of a value written with `writer` and resolved to
    `reader`, as one generated function (generated_reader.py: it raises for a value it leaves
    to fastavro). None when its writer lacks a field the event requires or gives an event id
    that is not a uuid: `from_record` works those out its own way."""
    fields = {field["name"]: field["type"] for field in writer.get("fields", ())}
    known = {field["name"] for field in reader.get("fields", ())}
    if not (fields.keys() >= _REQUIRED and known >= _REQUIRED):
        return None
    event_id = fields["event_id"]
    if not isinstance(event_id, dict) or event_id.get("logicalType") != "uuid":
        return None
    return generated_reader.generate(writer, reader, _FIELD_NAMES, _READ_AS, _LIST_FIELDS, _BUILD)
