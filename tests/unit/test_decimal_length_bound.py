"""A decimal's length is bounded when a value is read (catalog_contract.bounded_decimals): a
price of more than 64 bytes is refused with a DecodeError naming it, on both of the codec's
paths (the generated reader and fastavro's), whatever precedes it. On the code before, fastavro
read a 200,000-byte price in seconds (its conversion grows with the square of the length),
rounded it to 18 digits and accepted the value: these tests fail there (no DecodeError)."""

from __future__ import annotations

import copy
import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from catalog_contract import codec, schemas
from catalog_contract.bounded_decimals import MAX_DECIMAL_BYTES
from catalog_contract.errors import DecodeError


def _plain(schema: Any) -> Any:
    """The schema with its decimals as plain bytes: the same binary layout, any bytes written."""
    if isinstance(schema, list):
        return [_plain(branch) for branch in schema]
    if isinstance(schema, dict):
        if schema.get("logicalType") == "decimal":
            return {"type": "bytes"}
        return {key: _plain(value) for key, value in schema.items()}
    return schema


def value_with_price(
    price: bytes, version: schemas.SchemaVersion | None = None, **fields: Any
) -> bytes:
    """A value of `version` (the current one by default) whose current_price is `price` as
    written (two's complement, big-endian, unscaled)."""
    writer = version or schemas.current()
    record: dict[str, Any] = {f["name"]: None for f in writer.definition["fields"]}
    record.update(
        event_id=str(uuid.UUID(int=7)),
        received_at=datetime(2026, 11, 30, tzinfo=UTC),
        change_type="UPDATED",
        catalog_id="c",
        catalog_item_id="i",
        current_price=price,
        **fields,
    )
    body = io.BytesIO()
    fastavro.schemaless_writer(
        body, fastavro.parse_schema(_plain(copy.deepcopy(writer.definition))), record
    )
    return codec.MAGIC + writer.fingerprint_bytes + body.getvalue()


HUGE = b"\x7f" + b"\xff" * 199_999  # 10**481,000-odd: rounds to 18 digits in fastavro


@pytest.mark.parametrize("read", [codec.decode, codec.decode_record], ids=["decode", "record"])
def test_a_huge_price_is_refused_naming_its_length(read: Any) -> None:
    with pytest.raises(DecodeError, match="a decimal of 200000 bytes"):
        read(value_with_price(HUGE))


def test_a_huge_price_in_an_older_version_is_refused() -> None:
    oldest = schemas.all_versions()[0]
    assert oldest is not schemas.current()
    with pytest.raises(DecodeError, match="a decimal of 200000 bytes"):
        codec.decode(value_with_price(HUGE, oldest))


def test_a_huge_price_is_refused_after_what_the_generated_reader_declines() -> None:
    """A field before it that only fastavro reads (a union index written in two bytes, which
    the generated reader declines): fastavro's path meets the price and refuses it too."""
    value = value_with_price(HUGE)
    ordinary = value_with_price(b"\x01")
    assert codec.decode(ordinary).current_price == Decimal("0.0001")
    # source_updated_at's union branch 0 (null), written as 0x80 0x00 instead of 0x00.
    names = [f["name"] for f in schemas.current().definition["fields"]]
    assert names[:3] == ["event_id", "received_at", "source_updated_at"]
    at = codec.HEADER_SIZE + 1 + 36  # the header, the uuid's length byte and text
    at += len(fastavro_long(value[at:]))  # received_at
    assert value[at] == 0x00
    padded = value[:at] + b"\x80\x00" + value[at + 1 :]
    with pytest.raises(DecodeError, match="a decimal of 200000 bytes"):
        codec.decode(padded)


def fastavro_long(data: bytes) -> bytes:
    """The bytes of the varint at the start of `data`."""
    end = 0
    while data[end] & 0x80:
        end += 1
    return data[: end + 1]


def test_the_longest_price_allowed_reads_as_before_on_both_paths() -> None:
    padded = b"\x00" * (MAX_DECIMAL_BYTES - 1) + b"\x01"  # 0.0001 in 64 bytes
    assert codec.decode(value_with_price(padded)).current_price == Decimal("0.0001")
    assert codec.decode_record(value_with_price(padded))["current_price"] == Decimal("0.0001")
    with pytest.raises(DecodeError, match=f"a decimal of {MAX_DECIMAL_BYTES + 1} bytes"):
        codec.decode(value_with_price(b"\x00" + padded))


def test_the_bound_leaves_fastavros_own_decimals_alone() -> None:
    """Other readers in the process (a data team's tools) keep fastavro's decimal reader: a
    decimal of 84 bytes, past our bound, reads back whole under a schema of their own."""
    schema = fastavro.parse_schema(
        {"type": "bytes", "logicalType": "decimal", "precision": 200, "scale": 0}
    )
    big = Decimal("9" * 200)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, big)
    assert len(body.getvalue()) > MAX_DECIMAL_BYTES
    body.seek(0)
    assert fastavro.schemaless_reader(body, schema) == big
