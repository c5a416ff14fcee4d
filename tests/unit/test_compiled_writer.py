"""The compiled writer writes exactly fastavro's bytes, and leaves to fastavro every value it
does not write the same way."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract import codec, schemas
from catalog_contract.compiled_writer import Unsupported, compile_record
from catalog_contract.events import Availability, ChangeType, ProductChange
from tests.event_strategies import optional_texts, prices, texts, times

CURRENT = schemas.current()
WRITE = compile_record(CURRENT.parsed)

SAMPLE = ProductChange(
    event_id=uuid.UUID(int=7),
    received_at=datetime(2026, 11, 27, 10, 11, 12, 345678, tzinfo=UTC),
    change_type=ChangeType.UPDATED,
    catalog_id="7",
    catalog_item_id="chair-1",
    labels=("a", "b"),
    current_price=Decimal("-0.0001"),
    stock_availability=Availability.IN_STOCK,
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event_id": draw(st.uuids() | st.uuids().map(str)),
        "received_at": draw(times),
        "source_updated_at": draw(st.none() | times),
        "change_type": draw(st.sampled_from([c.value for c in ChangeType])),
        "catalog_id": draw(texts),
        "catalog_item_id": draw(texts),
        "name": draw(optional_texts),
        "description": draw(optional_texts),
        "manufacturer": draw(optional_texts),
        "category": draw(optional_texts),
        "labels": draw(st.none() | st.lists(texts, max_size=5)),
        "url": draw(optional_texts),
        "mobile_url": draw(optional_texts),
        "image_url": draw(optional_texts),
        "additional_image_urls": draw(st.none() | st.lists(texts, max_size=3)),
        "current_price": draw(prices),
        "original_price": draw(prices),
        "discount_percentage": draw(st.none() | st.integers(-(2**31), 2**31 - 1)),
        "currency": draw(optional_texts),
        "stock_availability": draw(st.none() | st.sampled_from([a.value for a in Availability])),
        "gtin": draw(optional_texts),
        "mpn": draw(optional_texts),
        "sku": draw(optional_texts),
        "sale_ends_at": draw(st.none() | times),
        "shipping_cost": draw(prices),
    }


def _fastavro(record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, CURRENT.parsed, record)
    return buffer.getvalue()


def test_the_current_schema_compiles() -> None:
    assert WRITE is not None
    assert {f["name"] for f in CURRENT.parsed["fields"]} == set(SAMPLE.to_record())


@settings(max_examples=200)
@given(records())
def test_writes_exactly_what_fastavro_writes(record: dict[str, Any]) -> None:
    assert WRITE is not None
    assert WRITE(record) == _fastavro(record)


def test_an_event_round_trips_through_the_codec() -> None:
    value = codec.encode(SAMPLE)
    assert value == codec.MAGIC + CURRENT.fingerprint_bytes + _fastavro(SAMPLE.to_record())
    assert codec.decode(value) == SAMPLE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("received_at", datetime(2026, 1, 1)),  # no zone: fastavro reads it in the local zone
        ("current_price", Decimal("1.23456")),  # more places than the schema's scale
        ("current_price", Decimal("NaN")),
        ("current_price", 1.5),
        ("discount_percentage", True),
        ("discount_percentage", 2**64),
        ("change_type", "RENAMED"),
        ("name", b"bytes"),
    ],
)
def test_values_it_does_not_write_like_fastavro_are_left_to_fastavro(
    field: str, value: Any
) -> None:
    assert WRITE is not None
    record = SAMPLE.to_record()
    record[field] = value
    with pytest.raises(Unsupported):
        WRITE(record)


def test_a_missing_field_is_left_to_fastavro() -> None:
    assert WRITE is not None
    record = SAMPLE.to_record()
    del record["name"]
    with pytest.raises(Unsupported):
        WRITE(record)


def test_a_schema_with_a_type_it_does_not_know_does_not_compile() -> None:
    schema = {"type": "record", "name": "x", "fields": [{"name": "f", "type": "double"}]}
    assert compile_record(schema) is None
    union = {"type": "record", "name": "y", "fields": [{"name": "f", "type": ["string", "int"]}]}
    assert compile_record(union) is None


@pytest.mark.parametrize(
    "price", ["1E+3", "-0", "0.0000", "-0.0001", "99999999999999.9999", "-128", "127", "-1E+5"]
)
def test_decimal_edges_are_written_as_fastavro_writes_them(price: str) -> None:
    assert WRITE is not None
    record = SAMPLE.to_record()
    record["current_price"] = Decimal(price)
    assert WRITE(record) == _fastavro(record)


def test_the_codec_still_refuses_what_fastavro_refuses() -> None:
    record = SAMPLE.to_record()
    record["current_price"] = Decimal("12345678901234567890")  # 20 digits, precision 18
    with pytest.raises(ValueError, match="precision"):
        codec.encode_record(record)


def test_the_codec_writes_with_the_compiled_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fastavro(*_: object) -> None:
        raise AssertionError("fastavro was asked to write")

    monkeypatch.setattr(fastavro, "schemaless_writer", no_fastavro)
    assert codec.encode(SAMPLE)[: codec.HEADER_SIZE] == codec.MAGIC + CURRENT.fingerprint_bytes


def test_the_codec_leaves_an_unsupported_value_to_fastavro() -> None:
    record = SAMPLE.to_record()
    record["received_at"] = datetime(2026, 1, 1, 12)  # no zone: fastavro's local-time reading
    expected = codec.MAGIC + CURRENT.fingerprint_bytes + _fastavro(record)
    assert codec.encode_record(record) == expected


def test_a_tuple_in_a_union_field_means_to_the_codec_what_it_means_to_fastavro() -> None:
    """fastavro reads a tuple in a union as (branch name, value): ("null", "x") is written as
    null, ("a", "b") is refused (no branch "a"); neither is the array of two texts."""
    record = SAMPLE.to_record()
    record["labels"] = ("null", "x")
    assert codec.encode_record(record) == codec.MAGIC + CURRENT.fingerprint_bytes + _fastavro(
        record
    )
    record["labels"] = ("a", "b")
    with pytest.raises(ValueError, match="union type name a not found"):
        codec.encode_record(record)


@pytest.mark.parametrize("count", [2**31, -(2**31) - 1, 2**40])
def test_the_codec_refuses_an_int_fields_value_beyond_32_bits_as_fastavro_does(
    count: int,
) -> None:
    """fastavro's union search finds no branch of ["null", "int"] for it; written as a long it
    would be a record no Avro int reader can read."""
    record = SAMPLE.to_record()
    record["discount_percentage"] = count
    with pytest.raises(ValueError, match="do not match"):
        codec.encode_record(record)


@given(
    st.integers(-(10**18) + 1, 10**18 - 1),
    st.integers(-4, 20),
)
@settings(max_examples=300)
def test_every_decimal_within_precision_is_written_here_as_fastavro_writes_it(
    coefficient: int, exponent: int
) -> None:
    """Any coefficient of at most 18 digits at any exponent the scale holds: written by the
    compiled writer itself (no fall-back), in exactly fastavro's bytes."""
    assert WRITE is not None
    record = SAMPLE.to_record()
    record["current_price"] = Decimal(coefficient).scaleb(exponent)
    assert WRITE(record) == _fastavro(record)


def test_a_field_name_is_only_ever_a_key_of_the_generated_writer() -> None:
    """The writer is generated as Python text: a name with quotes and code in it is still just
    the key it reads (written as a literal), and a record of no fields writes nothing."""
    name = "x'] + __import__('os').getcwd() + record['"
    schema = {"type": "record", "name": "r", "fields": [{"name": name, "type": "string"}]}
    write = compile_record(schema)
    assert write is not None
    assert write({name: "ab"}) == b"\x04ab"
    with pytest.raises(Unsupported):
        write({"x": "ab"})
    empty = compile_record({"type": "record", "name": "e", "fields": []})
    assert empty is not None
    assert empty({}) == b""
