"""One Avro binary writer per type the contract's records hold, each writing exactly
fastavro's bytes for the values it accepts: text, integers, datetimes with a zone, Decimals,
UUIDs, enum symbols, lists of text and ["null", X] unions of these. Any other value raises
`Unsupported`, so that fastavro writes (or refuses) it as it always did; `compile_type` gives
None for a type not listed here. The generated record writer (generated_writer.py) calls these.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    Clamped,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
)
from typing import Any

from catalog_contract.text_forms import uuid_text

Write = Callable[[Any, bytearray], None]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SIGNALS = (Clamped, Inexact, InvalidOperation, Overflow, Rounded, Subnormal, Underflow)


class Unsupported(Exception):
    """A value this writer does not write the way fastavro would (fastavro decides)."""


def write_long(n: int, out: bytearray) -> None:
    if type(n) is not int or not -(2**63) <= n < 2**63:
        raise Unsupported
    if 0 <= n < 64:  # most lengths: one byte
        out.append(n << 1)
        return
    n = (n << 1) ^ (n >> 63)  # zig-zag
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _int(n: int, out: bytearray) -> None:
    if type(n) is not int or not -(2**31) <= n < 2**31:
        raise Unsupported  # in a union, fastavro finds no branch for it and refuses it
    write_long(n, out)


def _bytes(value: bytes, out: bytearray) -> None:
    write_long(len(value), out)
    out += value


def write_string(value: Any, out: bytearray) -> None:
    if type(value) is not str:
        raise Unsupported
    _bytes(value.encode(), out)


def _uuid(value: Any, out: bytearray) -> None:
    write_string(uuid_text(value) if type(value) is uuid.UUID else value, out)


def _timestamp_micros(value: Any, out: bytearray) -> None:
    if type(value) is not datetime or value.tzinfo is None:
        raise Unsupported  # fastavro reads a naive time in the machine's zone
    write_long((value - _EPOCH) // _MICROSECOND, out)  # exact: timedelta // timedelta is an int


def _decimal(scale: int, precision: int) -> Write:
    # The unscaled integer is the value with its exponent moved by `scale` (scaleb), read as an
    # int: a fifth of the cost of joining the digits into text. Exact: the coefficient has at
    # most `precision` digits (checked first) and the result has a whole exponent; any signal
    # (a huge exponent) leaves the value to fastavro.
    exact = Context(prec=max(precision, 1), Emax=MAX_EMAX, Emin=MIN_EMIN, traps=list(_SIGNALS))

    def write(value: Any, out: bytearray) -> None:
        if type(value) is not Decimal or not value.is_finite():
            raise Unsupported
        _, digits, exponent = value.as_tuple()
        if len(digits) > precision or int(exponent) + scale < 0:
            raise Unsupported  # fastavro raises its own error
        try:
            unscaled = int(value.scaleb(scale, exact))
        except DecimalException:
            raise Unsupported from None
        size = (unscaled.bit_length() + 8) // 8
        _bytes(unscaled.to_bytes(size, "big", signed=True), out)

    return write


def _enum(symbols: list[str]) -> Write:
    index = {symbol: i for i, symbol in enumerate(symbols)}

    def write(value: Any, out: bytearray) -> None:
        found = index.get(value) if type(value) is str else None
        if found is None:
            raise Unsupported
        write_long(found, out)

    return write


def _array(item: Write) -> Write:
    def write(value: Any, out: bytearray) -> None:
        if type(value) not in (list, tuple):
            raise Unsupported
        if value:
            write_long(len(value), out)
            for element in value:
                item(element, out)
        out.append(0)

    return write


def _optional_string(value: Any, out: bytearray) -> None:
    """["null", "string"], the schema's most common field, in one call."""
    if value is None:
        out.append(0)
        return
    if type(value) is not str:
        raise Unsupported
    encoded = value.encode()
    out.append(2)
    write_long(len(encoded), out)
    out += encoded


def _optional(inner: Write) -> Write:
    """["null", X]: branch 0 for None, else branch 1 and the value."""

    def write(value: Any, out: bytearray) -> None:
        if value is None:
            out.append(0)
        elif type(value) is tuple:  # fastavro reads a tuple in a union as (branch name, value)
            raise Unsupported
        else:
            out.append(2)  # zig-zag 1
            inner(value, out)

    return write


def compile_type(schema: Any) -> Write | None:
    """The writer of one field's type, or None for a type not listed above."""
    if isinstance(schema, list):
        if len(schema) == 2 and schema[0] == "null":
            inner = compile_type(schema[1])
            if inner is write_string:
                return _optional_string
            return None if inner is None else _optional(inner)
        return None
    if isinstance(schema, str):
        schema = {"type": schema}
    if not isinstance(schema, Mapping):
        return None
    kind, logical = schema.get("type"), schema.get("logicalType")
    if kind == "string":
        return _uuid if logical == "uuid" else write_string if logical is None else None
    if kind in ("int", "long"):
        if logical == "timestamp-micros":
            return _timestamp_micros
        if logical is None:
            return _int if kind == "int" else write_long
        return None
    if kind == "bytes" and logical == "decimal":
        return _decimal(int(schema.get("scale", 0)), int(schema["precision"]))
    if kind == "enum" and logical is None:
        return _enum(list(schema["symbols"]))
    if kind == "array" and logical is None:
        item = compile_type(schema["items"])
        return None if item is None else _array(item)
    return None
