"""An Avro binary writer compiled once from one record schema: a list of per-field writers, so
writing a record is one pass with no schema walk and no union search. fastavro searches every
union branch for the best match on each write, which made encoding the receiver's single largest
cost per postback (~65 µs of its ~70; this does it in a fraction).

It writes exactly fastavro's bytes (tests/unit/test_compiled_writer.py compares them over
generated events), for the value types the contract's records hold: text, integers, datetimes
with a zone, Decimals, UUIDs, enum symbols and lists of text. Any other value (a naive datetime,
a float, a NaN...) raises `Unsupported`, and the caller writes that record with fastavro, which
accepts or refuses it as it always did. A schema using a type not listed here compiles to None.
"""

from __future__ import annotations

import operator
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

Write = Callable[[Any, bytearray], None]
RecordWriter = Callable[[Mapping[str, Any]], bytes]
ObjectWriter = Callable[[Any], bytes]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SIGNALS = (Clamped, Inexact, InvalidOperation, Overflow, Rounded, Subnormal, Underflow)


class Unsupported(Exception):
    """A value this writer does not write the way fastavro would (fastavro decides)."""


def _long(n: int, out: bytearray) -> None:
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
    _long(n, out)


def _bytes(value: bytes, out: bytearray) -> None:
    _long(len(value), out)
    out += value


def _string(value: Any, out: bytearray) -> None:
    if type(value) is not str:
        raise Unsupported
    _bytes(value.encode(), out)


def _uuid(value: Any, out: bytearray) -> None:
    _string(str(value) if type(value) is uuid.UUID else value, out)


def _timestamp_micros(value: Any, out: bytearray) -> None:
    if type(value) is not datetime or value.tzinfo is None:
        raise Unsupported  # fastavro reads a naive time in the machine's zone
    _long((value - _EPOCH) // _MICROSECOND, out)  # exact: timedelta // timedelta is an int


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
        _long(found, out)

    return write


def _array(item: Write) -> Write:
    def write(value: Any, out: bytearray) -> None:
        if type(value) not in (list, tuple):
            raise Unsupported
        if value:
            _long(len(value), out)
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
    _long(len(encoded), out)
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


def _compile_type(schema: Any) -> Write | None:
    if isinstance(schema, list):
        if len(schema) == 2 and schema[0] == "null":
            inner = _compile_type(schema[1])
            if inner is _string:
                return _optional_string
            return None if inner is None else _optional(inner)
        return None
    if isinstance(schema, str):
        schema = {"type": schema}
    if not isinstance(schema, Mapping):
        return None
    kind, logical = schema.get("type"), schema.get("logicalType")
    if kind == "string":
        return _uuid if logical == "uuid" else _string if logical is None else None
    if kind in ("int", "long"):
        if logical == "timestamp-micros":
            return _timestamp_micros
        if logical is None:
            return _int if kind == "int" else _long
        return None
    if kind == "bytes" and logical == "decimal":
        return _decimal(int(schema.get("scale", 0)), int(schema["precision"]))
    if kind == "enum" and logical is None:
        return _enum(list(schema["symbols"]))
    if kind == "array" and logical is None:
        item = _compile_type(schema["items"])
        return None if item is None else _array(item)
    return None


# One field's lines in the generated writer (`value` is the field's value, read by `source`;
# `_w` its writer).
_CALL = """
        _w{i}({source}, out)"""
_OPTIONAL = """
        value = {source}
        if value is None:
            append(0)
        elif type(value) is tuple:
            raise Unsupported
        else:
            append(2)
            _w{i}(value, out)"""
_OPTIONAL_STRING = """
        value = {source}
        if value is None:
            append(0)
        elif type(value) is str:
            encoded = value.encode()
            append(2)
            if len(encoded) < 64:
                append(len(encoded) << 1)
            else:
                _long(len(encoded), out)
            out += encoded
        else:
            raise Unsupported"""


def _field_lines(index: int, source: str, schema: Any) -> tuple[str, Write] | None:
    """The generated lines of one field and the writer they call, or None (type unknown)."""
    if isinstance(schema, list) and len(schema) == 2 and schema[0] == "null":
        inner = _compile_type(schema[1])
        if inner is None:
            return None
        code = _OPTIONAL_STRING if inner is _string else _OPTIONAL
        return code.format(i=index, source=source), inner
    write = _compile_type(schema)
    return None if write is None else (_CALL.format(i=index, source=source), write)


def compile_record(schema: Mapping[str, Any]) -> RecordWriter | None:
    """A writer of `schema`'s records (raising Unsupported for values it leaves to fastavro),
    or None when the schema has a type it does not know.

    Generated as one function with each field's lines in order (the common ["null", "string"]
    and every union's null branch written inline): a call per field of the per-field writers
    above cost about as much as the writing itself. Field names are written as Python literals
    (repr), so any name is only ever a string."""
    names = [str(field["name"]) for field in schema.get("fields", ())]
    writer: RecordWriter | None = _compile(
        schema, [f"record[{name!r}]" for name in names], {}, "KeyError"
    )
    return writer


def compile_object(
    schema: Mapping[str, Any], convert: Mapping[str, Callable[[Any], Any]]
) -> ObjectWriter | None:
    """A writer of objects with an attribute for each of `schema`'s fields, writing what the
    record writer writes for the record `{field: convert[field](value) (or value as it is)}`,
    without that record: its dict cost as much as a third of the writing. An attribute missing
    raises Unsupported (the caller then makes the record)."""
    names = [str(field["name"]) for field in schema.get("fields", ())]
    namespace: dict[str, Any] = {"_get": _getter(names)}
    sources = []
    for index, name in enumerate(names):
        if name in convert:
            namespace[f"_c{index}"] = convert[name]
            sources.append(f"_c{index}(record[{index}])")
        else:
            sources.append(f"record[{index}]")
    writer: ObjectWriter | None = _compile(schema, sources, namespace, "AttributeError", _GET)
    return writer


_GET = """
        record = _get(record)"""


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """Every attribute in one C call, as a tuple (attrgetter gives a lone value bare)."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        get_one = operator.attrgetter(names[0])
        return lambda item: (get_one(item),)
    return operator.attrgetter(*names)


def _compile(
    schema: Mapping[str, Any],
    sources: list[str],
    namespace: dict[str, Any],
    missing: str,
    first: str = "",
) -> Any:
    """The generated writer: `first`, then each field's lines reading its value by its source;
    `missing` (a field not found) is Unsupported."""
    lines = [first] if first else []
    namespace = {"Unsupported": Unsupported, "_long": _long, **namespace}
    for index, field in enumerate(schema.get("fields", ())):
        found = _field_lines(index, sources[index], field["type"])
        if found is None:
            return None
        lines.append(found[0])
        namespace[f"_w{index}"] = found[1]
    source = (
        "def write_record(record):\n"
        "    out = bytearray()\n"
        "    append = out.append\n"
        "    try:" + "".join(lines) + "\n"
        f"    except {missing}:\n"
        "        raise Unsupported from None\n"  # fastavro decides what a missing field means
        "    return bytes(out)\n"
    )
    if len(sources) == 0:
        source = "def write_record(record):\n    return b''\n"
    exec(compile(source, "<compiled_writer>", "exec"), namespace)  # noqa: S102 - our own text
    return namespace["write_record"]
