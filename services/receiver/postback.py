"""One postback's data points -> one ProductChange. Pure: no I/O, no clock (the caller passes it).

The platform sends data points under the keys of the partner's template. By default those keys
are the platform's own names (`CatalogId`, `CurrentPrice`, ...); a deployment whose template uses
other keys maps them with `field_map` (template key -> platform name).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from catalog_contract.events import CONTENT_FIELDS, ChangeType, ProductChange
from catalog_contract.frozen_build import builder, field_names
from catalog_contract.item_fields import ITEM_FIELDS, FieldKind
from catalog_contract.keys import SEPARATOR
from receiver import values
from receiver.errors import FieldProblem, InvalidPostback
from receiver.values import RawValue

Parser = Callable[[RawValue], Any]

# How a value of each kind of item field is read; a field checked more narrowly, by its name.
_PARSER_OF_KIND: dict[FieldKind, Parser] = {
    FieldKind.TEXT: values.text,
    FieldKind.LIST: values.string_list,
    FieldKind.PRICE: values.price,
    FieldKind.INTEGER: lambda raw: values.integer(raw, -(2**31), 2**31 - 1),  # Avro int
    FieldKind.LONG: lambda raw: values.integer(raw, -(2**63), 2**63 - 1),  # Avro long
    FieldKind.TIME: values.timestamp,
    FieldKind.AVAILABILITY: values.availability,
}
_PARSER_OF_FIELD: dict[str, Parser] = {
    "discount_percentage": lambda raw: values.integer(raw, 0, 100),
    "currency": values.currency,
}

# The platform's data-point name -> (event field, parser): the event's envelope, then every
# item field (catalog_contract.item_fields).
DATA_POINTS: dict[str, tuple[str, Parser]] = {
    "CatalogId": ("catalog_id", values.text),
    "CatalogItemId": ("catalog_item_id", values.text),
    "ChangeType": ("change_type", values.change_type),
    "DateLastUpdated": ("source_updated_at", values.timestamp),
    **{
        field.data_point: (
            field.name,
            _PARSER_OF_FIELD.get(field.name, _PARSER_OF_KIND[field.kind]),
        )
        for field in ITEM_FIELDS
    },
}
REQUIRED = ("CatalogId", "CatalogItemId")
_PRICES = {field.data_point: field.name for field in ITEM_FIELDS if field.kind is FieldKind.PRICE}

# Same content -> same id, so a retried postback is recognisably the same event.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a52-3f0e-4d7e-9a43-5c1b0d3e8f21")

_BY_LOWER_NAME = {name.lower(): name for name in DATA_POINTS}
# Keys as the platform spells them resolve without lowering them first (the usual case).
_BY_NAME = {name: name for name in DATA_POINTS}
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


# SHA-1 by CPython's own implementation: OpenSSL's (hashlib.sha1) fetches its algorithm and
# sets up a context at every call, ~0.6 us in a loop of its own but ~11 us of a postback in the
# route (bench.receiver_steps 'whole', with and without the hash); this one costs ~0.5 us either
# way. The digest is SHA-1's by definition (tests compare it with hashlib's). Module level, not
# a function: nothing here for the mutation gate to mutate into the same digests.
_sha1: Callable[[bytes], Any]
try:
    _sha1 = importlib.import_module("_sha1").sha1
except ImportError:  # pragma: no cover - a Python built without its own hashes
    _sha1 = partial(hashlib.sha1, usedforsecurity=False)

# What uuid.UUID(bytes=..., version=5) does to the digest's first 16 bytes (RFC 4122 variant,
# version 5), then sets its two slots, here directly: its __init__'s checks of arguments a
# digest always passes were most of making the id.
_VERSION_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_SET = (0x8000 << 48) | (5 << 76)
_new_object = object.__new__
_set_int = vars(uuid.UUID)["int"].__set__
_set_is_safe = vars(uuid.UUID)["is_safe"].__set__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown  # what UUID(bytes=...) says of a made-up id
# The id's text, every content field null, and where each field's text goes in it.
_ALL_NULL = ["null"] * len(CONTENT_FIELDS)
_CONTENT_AT = {name: at for at, name in enumerate(CONTENT_FIELDS)}
# JSON text of one string as json.dumps(..., ensure_ascii=False) writes it (the C function).
_json_string = json.encoder.encode_basestring
# ProductChange(**fields) without its frozen __init__ (a third of the cost; every field a
# postback does not set is None, the field's default: events.py asserts it).
_BUILD_CHANGE = builder(ProductChange)
_CHANGE_FIELDS = field_names(ProductChange)


def _is_empty(raw: RawValue) -> bool:
    if isinstance(raw, str):
        return not raw.strip()
    return all(not item.strip() for item in raw)


def data_point_name(key: str, field_map: Mapping[str, str]) -> str | None:
    """The platform name a template's key gives, or None: as `canonical_data_points` resolves
    each key (inline there, on the path of every postback)."""
    key = field_map.get(key, key)
    return _BY_NAME.get(key) or (_BY_LOWER_NAME.get(key.lower()) if key.isascii() else None)


def canonical_data_points(
    raw: Mapping[str, RawValue], field_map: Mapping[str, str]
) -> dict[str, RawValue]:
    """Keys resolved to platform names (case-insensitively); empty values dropped as absent.
    Two keys naming one data point (`CatalogId` and `catalogid`, or a field-map key beside the
    name it maps to) give every value, in order, as a repeated key does: the last one kept
    silently was a 200 for a value the sender may not have meant (the field's own reading
    refuses a list where one value is expected)."""
    mapped: dict[str, RawValue] = {}
    gathered: dict[str, list[str]] = {}  # lists made here (the caller's are never changed)
    for key, value in raw.items():
        if field_map:
            key = field_map.get(key, key)
        # Without case in ASCII only: `S\u212au` (the Kelvin sign) lower-cases to `sku`.
        name = _BY_NAME.get(key) or (_BY_LOWER_NAME.get(key.lower()) if key.isascii() else None)
        if name is None or _is_empty(value):
            continue
        if name not in mapped:
            mapped[name] = value
            continue
        values = gathered.get(name)
        if values is None:
            earlier = mapped[name]
            values = mapped[name] = gathered[name] = (
                [earlier] if isinstance(earlier, str) else [*earlier]
            )
        # Appended in place: a new list at each repeat was quadratic in the repeats.
        values.extend((value,) if isinstance(value, str) else value)
    return mapped


def event_id_for(content: Mapping[str, Any]) -> uuid.UUID:
    """A UUIDv5 of the event's content fields, in a fixed order and text form: the JSON array
    `json.dumps([str(value) (None as is), ...], separators=(",", ":"), ensure_ascii=False)` writes,
    joined here directly (a field not in `content` is null), and uuid.uuid5's own steps with the
    namespace's bytes taken once (the encoder and uuid5's per-call set-up were a third of the
    id's cost)."""
    parts = _ALL_NULL.copy()  # filled from the content's own items: most fields are not sent
    for field, value in content.items():
        if value is not None and (at := _CONTENT_AT.get(field)) is not None:
            parts[at] = _json_string(str(value))
    canonical = ",".join(parts)
    name = f"[{canonical}]".encode()  # UUIDv5 is SHA-1 by definition, not a security use
    digest = _sha1(_NAMESPACE_BYTES + name).digest()
    event_id = _new_object(uuid.UUID)
    _set_int(event_id, int.from_bytes(digest[:16]) & _VERSION_CLEAR | _VERSION_SET)
    _set_is_safe(event_id, _UNKNOWN_SAFETY)
    return event_id


def _check_price_currencies(
    points: Mapping[str, RawValue], content: dict[str, Any], problems: list[FieldProblem]
) -> None:
    """A code beside a price (`12.99 EUR`) must agree with `Currency` and the other prices',
    and is the currency when `Currency` is not sent: the code was dropped, so 12.99 EUR beside
    `Currency: USD` was published as 12.99 USD, and prices in EUR and GBP as one currency."""
    stated, said_by = content.get("currency"), "Currency"
    for name, field in _PRICES.items():
        if field not in content:  # not sent, or refused already
            continue
        for code in values.price_codes(points[name]):
            if stated is None:
                stated = content["currency"] = code
                said_by = name
            elif code != stated:
                problems.append(FieldProblem(name, f"in {code}, but {said_by} says {stated}"))


def build_change(
    raw: Mapping[str, RawValue],
    received_at: datetime,
    field_map: Mapping[str, str] | None = None,
    max_future_skew: timedelta = timedelta(days=1),
) -> ProductChange:
    """Parse every data point, collecting all problems before failing (one 422 names them all).

    A `DateLastUpdated` more than `max_future_skew` after `received_at` is refused: under
    last-writer-wins, a change dated 9999-12-31 would freeze its item forever."""
    points = canonical_data_points(raw, field_map or {})
    problems = [
        FieldProblem(name, "required but missing or empty")
        for name in REQUIRED
        if name not in points
    ]
    content: dict[str, Any] = {"change_type": ChangeType.UPDATED}
    for name, raw_value in points.items():
        field, parse = DATA_POINTS[name]
        try:
            content[field] = parse(raw_value)
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
    _check_price_currencies(points, content, problems)
    updated_at = content.get("source_updated_at")
    if updated_at is not None and updated_at - received_at > max_future_skew:
        problems.append(
            FieldProblem(
                "DateLastUpdated",
                f"{updated_at.isoformat()} is more than {max_future_skew} after the time received "
                f"({received_at.isoformat()})",
            )
        )
    if SEPARATOR in content.get("catalog_id", ""):
        problems.append(FieldProblem("CatalogId", f"may not contain {SEPARATOR!r}"))
    if problems:
        raise InvalidPostback(problems)
    content["event_id"] = event_id_for(content)  # (of the content fields only)
    content["received_at"] = received_at
    return _BUILD_CHANGE(*map(content.get, _CHANGE_FIELDS))
