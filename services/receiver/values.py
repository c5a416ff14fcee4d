"""Turning the platform's text values into typed ones. Pure functions; each raises ValueError
with a reason a partner can act on."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from catalog_contract.events import PRICE_PRECISION, PRICE_SCALE, Availability, ChangeType

RawValue = str | list[str]

# Longest value each typed parser reads. Every valid price, integer, date, code or word is far
# shorter; refusing longer text first keeps each parse's cost bounded whatever the body holds.
MAX_PRICE_CHARS = 64
MAX_INTEGER_CHARS = 32
MAX_TIMESTAMP_CHARS = 64
MAX_WORD_CHARS = 64

# A currency symbol ($, €, £ ...) or ISO code before or after the number. Matched only on text
# already bounded by MAX_PRICE_CHARS, and anchored at both ends (a search for a trailing pattern
# retried from every position was quadratic in a run of spaces).
_CURRENCY = r"(?:[A-Za-z]{3}|[^\w\s.,+-]+)"
# Digits are 0-9 only: a str pattern's \d and Decimal() also read Arabic-Indic, fullwidth and
# other Unicode digits, which the platform never sends and other readers would not parse alike.
_PRICE = re.compile(rf"(?:{_CURRENCY}\s*)?([0-9,.]+)(?:\s*{_CURRENCY})?")
# The same, with the text on each side kept: a currency code there says the price's currency.
_PRICE_SIDES = re.compile(rf"(?:({_CURRENCY})\s*)?[0-9,.]+(?:\s*({_CURRENCY}))?")
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_GROUPED_NUMBER = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_INTEGER = re.compile(r"[+-]?([0-9]+)(?:\.0*)?")
_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_SCALE)
# A plain decimal that the full rules below would take as it is: ASCII digits only, at most
# PRICE_PRECISION - PRICE_SCALE of them before the point (too large starts there) and at most
# PRICE_SCALE after it. The usual price; read without the currency and grouping patterns.
_SIMPLE_PRICE = re.compile(
    rf"[0-9]{{1,{PRICE_PRECISION - PRICE_SCALE}}}(?:\.[0-9]{{1,{PRICE_SCALE}}})?"
)
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
_WORD_SEPARATORS = re.compile(r"[\s_\-]+")

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
    return _WORD_SEPARATORS.sub("", word).lower()


def storable(value: str) -> str:
    """`value`, if every store can keep it: no NUL (PostgreSQL text cannot hold it) and no lone
    surrogate (not encodable as UTF-8, so neither Avro nor a Kafka key can carry it)."""
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    if value.isascii():  # O(1) in CPython; only non-ASCII text can hold a surrogate
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"contains a lone surrogate at character {exc.start} (not valid Unicode text)"
        ) from exc
    return value


def text(raw: RawValue) -> str:
    if isinstance(raw, list):
        raise ValueError("expected a single value, got a list")
    return storable(raw.strip())


def _bounded(raw: RawValue, limit: int, what: str) -> str:
    value = text(raw)
    if len(value) > limit:
        raise ValueError(f"too long for {what}: {len(value)} characters (at most {limit})")
    return value


def price(raw: RawValue) -> Decimal:
    """`12.99`, `1,299.00`, `$12.99`, `12.99 EUR` -> an exact Decimal (never a float)."""
    if raw.__class__ is str and _SIMPLE_PRICE.fullmatch(raw):
        return Decimal(raw).quantize(_PRICE_QUANTUM)  # exact: at most PRICE_SCALE places
    return _price_in_full(raw)


def _price_in_full(raw: RawValue) -> Decimal:
    """`price` by the full rules (what the fast path gives, it gives alike)."""
    value = _bounded(raw, MAX_PRICE_CHARS, "a price")
    match = _PRICE.fullmatch(value)
    number = match.group(1) if match else ""
    if not (_PLAIN_NUMBER.fullmatch(number) or _GROUPED_NUMBER.fullmatch(number)):
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


# Symbols of one currency each: `€12.99` beside `USD` (a code, a Currency, an XML attribute)
# was published as 12.99 USD. ($, £, ¥, kr ... name several: they say none.)
_SYMBOL_CODES = {"€": "EUR", "₹": "INR", "₽": "RUB", "₺": "TRY", "₪": "ILS", "₴": "UAH"}


def price_codes(raw: RawValue) -> tuple[str, ...]:
    """The currency codes written beside a price `price` read (`12.99 EUR`, `eur 12.99`,
    `€12.99`), upper-cased, in order; none for a symbol of several currencies ($ is USD, CAD,
    AUD ...) or a bare number."""
    value = raw.strip() if isinstance(raw, str) else ""
    if value[:1].isdigit() and value[-1:].isdigit():  # the usual price: nothing either side
        return ()
    match = _PRICE_SIDES.fullmatch(value)
    sides = [side for side in (match.groups() if match else ()) if side]
    return tuple(
        side.upper() if side.isascii() and side.isalpha() else _SYMBOL_CODES[side]
        for side in sides
        if (side.isascii() and side.isalpha()) or side in _SYMBOL_CODES
    )


def integer(raw: RawValue, low: int, high: int) -> int:
    """`42`, `+42`, `42.0` -> 42. Digits only: no exponent, no NaN (a Decimal `sNaN` raised on
    comparison), and bounded in length before `int()` (whose cost grows with the digits)."""
    value = _bounded(raw, MAX_INTEGER_CHARS, "an integer")
    if not _INTEGER.fullmatch(value):
        raise ValueError(f"not an integer: {value!r}")
    number = int(value.split(".", 1)[0])
    if not low <= number <= high:
        raise ValueError(f"{value} is outside {low}..{high}")
    return number


def availability(raw: RawValue) -> Availability:
    value = _bounded(raw, MAX_WORD_CHARS, "an availability")
    found = _AVAILABILITY_WORDS.get(_squash(value))
    if found is None:
        raise ValueError(
            f"unknown availability {value!r} (expected InStock, OutOfStock, "
            "LimitedAvailability, BackOrder or PreOrder, in any case)"
        )
    return found


def change_type(raw: RawValue) -> ChangeType:
    value = _bounded(raw, MAX_WORD_CHARS, "a change type")
    found = _CHANGE_WORDS.get(_squash(value))
    if found is None:
        raise ValueError(f"unknown change type {value!r} (expected created, updated or removed)")
    return found


def timestamp(raw: RawValue) -> datetime:
    """ISO-8601 with or without a zone; without one it is taken as UTC."""
    value = _bounded(raw, MAX_TIMESTAMP_CHARS, "a date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"outside the years 1..9999 in UTC: {value!r}") from exc


def currency(raw: RawValue) -> str:
    value = _bounded(raw, MAX_WORD_CHARS, "a currency code")
    # ASCII first: str.upper() made codes of other letters (a dotless i, U+0131, in `\u0131NR`
    # gave INR; the ligature U+FB00 in `\ufb00a` gave FFA).
    if not (value.isascii() and _CURRENCY_CODE.match(value.upper())):
        raise ValueError(f"not an ISO 4217 currency code: {value!r}")
    return value.upper()


def string_list(raw: RawValue) -> tuple[str, ...]:
    """A JSON array, repeated form/query keys, or comma-separated text."""
    items = raw if isinstance(raw, list) else raw.split(",")
    return tuple(storable(item.strip()) for item in items if item.strip())
