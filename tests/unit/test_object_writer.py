"""codec.encode writes an event from its fields (compiled_writer.compile_object), without the
record `to_record` makes: it must write exactly the bytes `encode_record(event.to_record())`
writes, fastavro's, for every event, and leave to the record every event it cannot write so."""

from __future__ import annotations

import dataclasses
import enum
import io
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings

from catalog_contract import codec, compiled_writer, schemas
from catalog_contract.events import RECORD_CONVERSIONS, ChangeType, ProductChange, record_value
from tests.unit.test_compiled_writer import SAMPLE, records

CURRENT = schemas.current()


def _fastavro(record: dict[str, Any], schema: schemas.SchemaVersion = CURRENT) -> bytes:
    buffer = io.BytesIO()
    buffer.write(codec.MAGIC + schema.fingerprint_bytes)
    fastavro.schemaless_writer(buffer, schema.parsed, record)
    return buffer.getvalue()


def _outcome(write: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "written", write(*args)
    except Exception as exc:
        return "refused", (type(exc), str(exc))


@settings(max_examples=300)
@given(records())
def test_an_event_is_written_exactly_as_fastavro_writes_its_record(record: dict[str, Any]) -> None:
    event = ProductChange.from_record(record)
    assert codec.encode(event) == _fastavro(event.to_record())


def test_every_version_of_the_schema_writes_the_event_as_its_record() -> None:
    for version in schemas.all_versions():
        expected = _fastavro(SAMPLE.to_record(), version)
        assert codec.encode(SAMPLE, version) == expected, version.version


class _Other(enum.Enum):
    UPDATED = "UPDATED"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("received_at", datetime(2026, 1, 1)),  # no zone: fastavro reads it in the local zone
        ("current_price", Decimal("1.23456")),  # more places than the schema's scale
        ("current_price", Decimal("12345678901234567890")),  # refused: precision 18
        ("current_price", 1.5),
        ("discount_percentage", 2**40),  # refused: no branch of ["null", "int"]
        ("change_type", "UPDATED"),  # a plain symbol, as a record has it
        ("change_type", _Other.UPDATED),  # another enum: to_record writes its value
        ("change_type", "RENAMED"),  # refused
        ("stock_availability", "IN_STOCK"),
        ("labels", ("null", "x")),  # a tuple in a list field: to_record makes it a list
        ("labels", ["a", "b"]),
        ("name", ("null", "x")),  # a tuple in a text field: fastavro's (branch, value)
        ("name", ("a", "b")),  # refused: no branch a
        ("name", ChangeType.CREATED),  # a text field's enum is not converted: written as text
        ("event_id", "5f0c0000-0000-4000-8000-000000000000"),  # text: written as it is
    ],
)
def test_an_odd_value_gets_what_its_record_gets(field: str, value: Any) -> None:
    event = dataclasses.replace(SAMPLE, **{field: value})
    expected = _outcome(lambda: _fastavro(event.to_record()))
    assert _outcome(codec.encode, event) == expected
    assert _outcome(codec.encode_record, event.to_record()) == expected


def test_the_event_is_written_without_its_record(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = codec.encode(SAMPLE)

    def no_record(_: ProductChange) -> dict[str, Any]:
        raise AssertionError("the record was made")

    monkeypatch.setattr(ProductChange, "to_record", no_record)
    fresh = codec._per_fingerprint(codec._compile_object)  # the writer made here, not found made
    monkeypatch.setattr(codec, "_object_writer", fresh)
    assert codec.encode(SAMPLE) == expected
    assert codec.encode(SAMPLE, CURRENT) == expected


def test_the_conversions_are_to_records() -> None:
    assert sorted(RECORD_CONVERSIONS) == [
        "additional_image_urls",
        "change_type",
        "labels",
        "stock_availability",
    ]
    assert record_value(ChangeType.CREATED) == "CREATED"
    assert type(record_value(ChangeType.CREATED)) is str
    assert record_value(("a", "b")) == ["a", "b"]
    assert record_value("x") == "x"
    assert record_value(None) is None


_ONE = {"type": "record", "name": "one", "fields": [{"name": "a", "type": "string"}]}


@dataclasses.dataclass
class _A:
    a: Any


def test_an_object_writer_of_one_field_and_of_none() -> None:
    write = compiled_writer.compile_object(_ONE, {})
    assert write is not None
    assert write(_A("hi")) == b"\x04hi"
    assert compiled_writer.compile_object(_ONE, {"a": str.upper})(_A("hi")) == b"\x04HI"  # type: ignore[misc]
    empty = compiled_writer.compile_object({"type": "record", "name": "e", "fields": []}, {})
    assert empty is not None
    assert empty(object()) == b""


def test_an_object_without_a_field_is_left_to_the_record() -> None:
    write = compiled_writer.compile_object(_ONE, {})
    assert write is not None
    with pytest.raises(compiled_writer.Unsupported):
        write(uuid.UUID(int=1))


def test_a_schema_with_a_type_it_does_not_know_makes_no_object_writer() -> None:
    schema = {"type": "record", "name": "x", "fields": [{"name": "f", "type": "double"}]}
    assert compiled_writer.compile_object(schema, {}) is None


def test_an_event_left_to_its_record_is_written_with_the_version_asked() -> None:
    event = dataclasses.replace(SAMPLE, received_at=datetime(2026, 1, 1, 12))  # no zone
    for version in schemas.all_versions():
        expected = _fastavro(event.to_record(), version)
        assert codec.encode(event, version) == expected, version.version
