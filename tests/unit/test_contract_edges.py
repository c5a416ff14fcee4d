"""Edge cases of the topic contract: keys that are not ours, values cut short, old writers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from catalog_contract import codec, keys, schemas
from catalog_contract.errors import ContractError, DecodeError
from catalog_contract.events import ChangeType, ProductChange

EVENT = ProductChange(
    event_id=uuid.UUID("00000000-0000-0000-0000-000000000002"),
    received_at=datetime(2026, 11, 27, 12, tzinfo=UTC),
    change_type=ChangeType.CREATED,
    catalog_id="42",
    catalog_item_id="sku-1",
    name="Mug",
)


@pytest.mark.parametrize(("catalog_id", "item_id"), [("", "x"), ("42", ""), ("", "")])
def test_a_key_needs_both_ids(catalog_id: str, item_id: str) -> None:
    with pytest.raises(ContractError, match="non-empty"):
        keys.product_key(catalog_id, item_id)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (b"42:x", ("42", "x")),
        (b"42::", ("42", ":")),
        (b"42:a:b", ("42", "a:b")),
        ("café:tasse".encode(), ("café", "tasse")),
    ],
)
def test_keys_split_at_the_first_separator(key: bytes, expected: tuple[str, str]) -> None:
    assert keys.parse_key(key) == expected
    assert keys.product_key(*expected) == key


@pytest.mark.parametrize("key", [b"42:", b":x", b":", b"", b"42"])
def test_keys_without_both_ids_are_not_ours(key: bytes) -> None:
    with pytest.raises(ContractError, match="is not '<catalog_id>:<catalog_item_id>'"):
        keys.parse_key(key)


def test_a_key_that_is_not_utf8_is_not_ours() -> None:
    with pytest.raises(ContractError, match="not UTF-8"):
        keys.parse_key(b"4\xff:x")


def test_a_catalog_id_with_the_separator_cannot_make_a_key() -> None:
    with pytest.raises(ContractError, match=r"may not contain ':'"):
        keys.product_key("a:b", "x")


def test_a_value_that_is_only_a_header_is_corrupt_not_foreign() -> None:
    header_only = codec.MAGIC + schemas.current().fingerprint_bytes
    with pytest.raises(DecodeError, match="corrupt Avro body"):
        codec.decode(header_only)
    with pytest.raises(DecodeError, match="no C3 01 header"):
        codec.decode(header_only[:-1])
    with pytest.raises(DecodeError, match="no C3 01 header"):
        codec.decode(b"\xc3\x02" + header_only[2:] + b"\x00")


def test_a_record_written_with_an_older_schema_reads_with_every_current_field() -> None:
    v1, v2 = schemas.all_versions()
    record = codec.decode_record(codec.encode(EVENT, v1))
    assert set(record) == {field["name"] for field in v2.definition["fields"]}
    assert (record["sale_ends_at"], record["shipping_cost"]) == (None, None)
    assert codec.writer_schema(codec.encode(EVENT, v1)) is v1
    assert codec.writer_schema(codec.encode(EVENT)) is v2
    # read as the old schema, the new fields are not there
    old = codec.decode_record(codec.encode(EVENT), v1)
    assert "sale_ends_at" not in old
    assert old["name"] == "Mug"
