"""Decimals of a bounded length in fastavro's reads of our values.

fastavro turns a decimal's bytes into a `Decimal` in time that grows with the square of their
length, then rounds it to the schema's precision: one value holding a decimal of a megabyte
(anyone who can write to the topic can put one there) held a projector for minutes, and was
accepted. Our precision (18 digits) needs at most 8 bytes; a decimal of more than
MAX_DECIMAL_BYTES is refused (`DecodeError`, so the value is dead-lettered) in microseconds.

fastavro picks a logical reader by the writer schema's `logicalType`, from one registry shared
by the whole process. Its `decimal` reader is left as it is for everyone else: the schemas we
read with name their decimals `catalog-stream-decimal` instead, whose reader checks the length
and then calls fastavro's own. The name changes nothing of the bytes (a logical type is not in
the binary encoding, nor in the parsing canonical form the fingerprint is taken of)."""

from __future__ import annotations

import copy
from typing import Any

import fastavro
from fastavro.read import LOGICAL_READERS

from catalog_contract.errors import DecodeError

MAX_DECIMAL_BYTES = 64
"""Eight times what our precision needs: room for a writer that pads, none for a hostile one."""

BOUNDED_DECIMAL = "catalog-stream-decimal"
_FASTAVROS_DECIMAL = LOGICAL_READERS["bytes-decimal"]


def _read_decimal(data: bytes, writer_schema: Any, reader_schema: Any) -> Any:
    if len(data) > MAX_DECIMAL_BYTES:
        raise DecodeError(
            f"a decimal of {len(data)} bytes (at most {MAX_DECIMAL_BYTES}; precision "
            f"{writer_schema.get('precision')} needs far fewer)"
        )
    return _FASTAVROS_DECIMAL(data, writer_schema, reader_schema)


LOGICAL_READERS[f"bytes-{BOUNDED_DECIMAL}"] = _read_decimal


def bounded(definition: Any) -> Any:
    """fastavro's parsed form of the schema `definition`, its `bytes` decimals renamed so that
    the bounded reader reads them."""
    return fastavro.parse_schema(_renamed(copy.deepcopy(definition)))


def _renamed(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_renamed(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "bytes" and schema.get("logicalType") == "decimal":
        return {**schema, "logicalType": BOUNDED_DECIMAL}
    return {key: _renamed(value) for key, value in schema.items()}
