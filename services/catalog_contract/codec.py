"""Avro single-object encoding of product change values (no schema registry needed).

A value is `C3 01`, the writer schema's 8-byte little-endian CRC-64-AVRO fingerprint, then the
Avro binary body. Any reader finds the writer schema among `schemas/` by that fingerprint.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import fastavro

from catalog_contract import bounded_decimals, compiled_writer, schemas
from catalog_contract.errors import DecodeError
from catalog_contract.events import RECORD_CONVERSIONS, ProductChange, value_reader

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8

_Made = TypeVar("_Made")


def _per_fingerprint(
    make: Callable[[schemas.SchemaVersion], _Made],
) -> Callable[[schemas.SchemaVersion], _Made]:
    """`make(version)`, made at a version's first use and then found by its fingerprint: what
    the codec makes of a schema version (a compiled writer, the bounded schema) takes
    milliseconds, and is the same for every value of that version."""
    made: dict[int, _Made] = {}

    def once(version: schemas.SchemaVersion) -> _Made:
        try:
            return made[version.fingerprint]
        except KeyError:
            pass  # (out of the handler: an error of make's is not "during" this one)
        found = made[version.fingerprint] = make(version)
        return found

    return once


def _compile_record(version: schemas.SchemaVersion) -> compiled_writer.RecordWriter | None:
    return compiled_writer.compile_record(version.parsed)


def _compile_object(version: schemas.SchemaVersion) -> compiled_writer.ObjectWriter | None:
    return compiled_writer.compile_object(version.parsed, RECORD_CONVERSIONS)


def _bound(version: schemas.SchemaVersion) -> Any:
    """The version's schema with its decimals' length bounded (bounded_decimals)."""
    return bounded_decimals.bounded(version.definition)


# Not functools.cache: a SchemaVersion is not hashable (its definition is a dict); and mutmut
# mutates no decorated function: these stay in the mutation gate (tests/unit/test_codec_caches.py).
_record_writer = _per_fingerprint(_compile_record)
_object_writer = _per_fingerprint(_compile_object)
_bounded = _per_fingerprint(_bound)


def encode_record(record: dict[str, Any], schema: schemas.SchemaVersion | None = None) -> bytes:
    writer = schema or schemas.current()
    compiled = _record_writer(writer)
    if compiled is not None:
        try:
            return MAGIC + writer.fingerprint_bytes + compiled(record)
        except compiled_writer.Unsupported:
            pass  # fastavro writes (or refuses) this one
    buffer = io.BytesIO()
    buffer.write(MAGIC)
    buffer.write(writer.fingerprint_bytes)
    fastavro.schemaless_writer(buffer, writer.parsed, record)
    return buffer.getvalue()


def encode(event: ProductChange, schema: schemas.SchemaVersion | None = None) -> bytes:
    """`encode_record(event.to_record())`: the same bytes, written from the event's fields
    without making the record (its dict and conversions were a fifth of encoding an event)."""
    writer = schema or schemas.current()
    compiled = _object_writer(writer)
    if compiled is not None:
        try:
            return MAGIC + writer.fingerprint_bytes + compiled(event)
        except compiled_writer.Unsupported:
            pass  # the record decides, as it always did
    return encode_record(event.to_record(), schema)


def writer_schema(value: bytes, family: str = schemas.PRODUCT_CHANGE) -> schemas.SchemaVersion:
    """The schema version of `family` that wrote `value`, from its header."""
    if len(value) < HEADER_SIZE or value[:2] != MAGIC:
        raise DecodeError("value is not Avro single-object encoded (no C3 01 header)")
    fingerprint = int.from_bytes(value[2:HEADER_SIZE], "little")
    found = schemas.by_fingerprint(family).get(fingerprint)
    if found is None:
        raise DecodeError(f"unknown writer schema fingerprint {fingerprint:016x}")
    return found


def decode_record(value: bytes, reader: schemas.SchemaVersion | None = None) -> dict[str, Any]:
    """Read with the writer's schema, resolved to `reader` (default: the current product schema;
    the writer is looked up in the reader's family)."""
    target = reader or schemas.current()
    writer = writer_schema(value, target.family)
    try:
        record = fastavro.schemaless_reader(
            io.BytesIO(value[HEADER_SIZE:]),
            _bounded(writer),
            target.parsed if target is not writer else None,
        )
    except Exception as exc:  # fastavro raises many types for corrupt bodies
        raise DecodeError(f"corrupt Avro body ({type(exc).__name__}: {exc})") from exc
    if not isinstance(record, dict):
        raise DecodeError("Avro body is not a record")
    return record


@cache
def _value_readers() -> dict[bytes, Callable[[bytes], ProductChange]]:
    """The generated reader of each product schema version, resolved to the current one, by
    the header of the values it wrote (a version without one is not listed)."""
    current = schemas.current()
    found = {}
    for version in schemas.all_versions():
        read = value_reader(version.parsed, current.parsed)
        if read is not None:
            found[MAGIC + version.fingerprint_bytes] = read
    return found


def decode(value: bytes) -> ProductChange:
    """`from_record(decode_record(value))`. A value of a version with a generated reader is
    read by it: the same event, for 0.33x the CPU (bench.decode_ab, issue #11). What it declines
    or cannot read (cut short, not UTF-8, an unknown header...) is read by fastavro, which reads
    or refuses it as it always did."""
    try:
        return _value_readers()[value[:HEADER_SIZE]](value)
    except Exception:  # noqa: S110 - any failure: fastavro's path decides
        pass
    return ProductChange.from_record(decode_record(value))
