"""The read API's query parameters, text -> typed values. Pure, and bounded: each parser looks at
a short, length-checked text with one anchored pattern before converting it, so no parameter can
cost more than linear work (a `Decimal("1e999995")` turned into an int took ~90 s) and nothing
the database cannot hold (integers past 2^63) reaches a query."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from catalog_contract import positions as record_positions
from catalog_contract.events import PRICE_SCALE, Availability
from projector.errors import ProjectorError

# The store's integers are signed 64-bit (SQLite INTEGER, PostgreSQL BIGINT).
MAX_INT64 = 2**63 - 1
# Prices in units of 1/10^PRICE_SCALE must fit the store's integers: 14 whole digits do.
PRICE_PATTERN = r"([0-9]{1,14})(?:\.([0-9]{1,%s}))?".replace("%s", str(PRICE_SCALE))
_PRICE = re.compile(PRICE_PATTERN, re.ASCII)
POSITION_PATTERN = record_positions.POSITION_PATTERN  # `3:120`, bounded; the OpenAPI doc's
_POSITION = re.compile(POSITION_PATTERN, re.ASCII)
_SEQUENCE = re.compile(r"[0-9]{1,20}", re.ASCII)  # 20: a zero-padded id, as documented
_MOMENT_MAX_CHARS = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")
_UNIT: int = 10**PRICE_SCALE


class BadParameter(ProjectorError):
    """A query parameter or header the read API cannot use: which one, and why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def given(parse: Callable[[str, str], T], name: str, text: str | None) -> T | None:
    """`parse(name, text)`, or None when the parameter was not sent."""
    return None if text is None else parse(name, text)


def price_units(name: str, text: str) -> int:
    """A price like `12.99` in the store's integer units (1/10,000): `"12.99"` -> 129900."""
    found = _PRICE.fullmatch(text)
    if found is None:
        raise BadParameter(
            name, f"must be a decimal like 12.99 (up to 14 digits, {PRICE_SCALE} places)"
        )
    whole, fraction = str(found.group(1)), str(found.group(2) or "")
    return int(whole) * _UNIT + int(fraction.ljust(PRICE_SCALE, "0"))


def position(name: str, text: str) -> tuple[int, int]:
    """`<partition>:<offset>` as the receiver returns it: `"3:120"` -> (3, 120)."""
    found = _POSITION.fullmatch(text)
    if found is None:
        raise BadParameter(name, "must be '<partition>:<offset>', e.g. 3:120")
    return int(found.group(1)), int(found.group(2))


def sequence(name: str, text: str) -> int:
    """A change feed sequence number (0 .. 2^63-1)."""
    if _SEQUENCE.fullmatch(text) is None or int(text) > MAX_INT64:
        raise BadParameter(name, f"must be an integer from 0 to {MAX_INT64}")
    return int(text)


def moment_micros(name: str, text: str) -> int:
    """An ISO-8601 time WITH a time zone, as microseconds since the epoch (the store's unit)."""
    if len(text) > _MOMENT_MAX_CHARS:
        raise BadParameter(name, f"longer than {_MOMENT_MAX_CHARS} characters")
    # RFC 3339 (what OpenAPI's `date-time` is) also allows a lower-case t and z, and a leap
    # second; datetime has neither: read 23:59:60 as the instant after 23:59:59.
    text = text.upper()
    leap = text[16:19] == ":60"
    try:
        moment = datetime.fromisoformat(text[:17] + "59" + text[19:] if leap else text)
    except ValueError as exc:
        raise BadParameter(name, "must be an ISO-8601 time, e.g. 2026-11-27T10:00:00Z") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadParameter(name, "needs a time zone (Z or +hh:mm)")
    delta = moment - _EPOCH  # exact even before datetime.min in UTC
    if leap and delta.seconds != 86_399:  # a leap second ends a UTC day: 23:59:60Z
        raise BadParameter(name, "a leap second (:60) is only the last second of a UTC day")
    delta += timedelta(seconds=leap)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def availability(name: str, text: str) -> Availability:
    """A stock availability, in any case: `in_stock` -> IN_STOCK."""
    try:
        return Availability(text.upper())
    except ValueError as exc:
        known = ", ".join(a.value for a in Availability if a is not Availability.UNKNOWN)
        raise BadParameter(name, f"must be one of {known}") from exc


def like_pattern(text: str) -> str:
    """A LIKE pattern matching names that contain `text` literally (with ESCAPE '\\'):
    `%`, `_` and `\\` in the text match only themselves."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
