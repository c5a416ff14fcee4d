"""The topic contract: exact bytes of the codec, the fingerprint, the key and its partition."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import avro.schema
import fastavro.schema
import pytest

from catalog_contract import codec, compat, keys, reader, schemas, topics, writing
from catalog_contract.errors import ContractError, DecodeError
from catalog_contract.events import Availability, ChangeType, ProductChange

EVENT = ProductChange(
    event_id=uuid.UUID("00000000-0000-0000-0000-000000000001"),
    received_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    change_type=ChangeType.UPDATED,
    catalog_id="42",
    catalog_item_id="sku-1",
    current_price=Decimal("12.9900"),
    stock_availability=Availability.IN_STOCK,
    labels=("a", "b"),
)


def test_crc64_avro_matches_the_specification_and_fastavro() -> None:
    # The spec defines fp(empty input) as the EMPTY constant itself.
    assert schemas.crc64_avro(b"") == 0xC15D213AA4D7A795
    version = schemas.current()
    # fastavro prints the fingerprint's 8 little-endian bytes in hex.
    expected = fastavro.schema.fingerprint(version.canonical_form, "CRC-64-AVRO")
    assert version.fingerprint_bytes.hex() == expected


def test_fingerprint_of_the_schema_file_agrees_with_apache_avro_crc() -> None:
    version = schemas.current()
    definition = json.loads(version.path.read_text())
    # Apache Avro's Python library has its own CRC-64-AVRO. Its canonical form keeps logical
    # types as {"type": ...} objects (the Java library and the spec drop them), so give it the
    # canonical text itself, whose canonical form is that text: the two CRCs must then agree.
    canonical = fastavro.schema.to_parsing_canonical_form(definition)
    assert avro.schema.parse(canonical).fingerprint() == version.fingerprint_bytes


def _long(n: int) -> str:
    """Avro's zigzag varint, written out independently of any Avro library."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return out.hex()


def _text(s: str) -> str:
    return _long(len(s.encode())) + s.encode().hex()


def test_encoded_value_is_single_object_encoding_byte_for_byte() -> None:
    received_micros = 1767323045678901
    assert EVENT.received_at == datetime.fromtimestamp(received_micros / 1e6, UTC)
    body = (
        _text("00000000-0000-0000-0000-000000000001")  # event_id
        + _long(received_micros)  # received_at
        + "00"  # source_updated_at: null (union branch 0)
        + "02"  # change_type: UPDATED (symbol 1)
        + _text("42")
        + _text("sku-1")
        + "00" * 4  # name, description, manufacturer, category: null
        + "02"
        + "04"
        + _text("a")
        + _text("b")
        + "00"  # labels: branch 1, ["a", "b"]
        + "00" * 4  # url, mobile_url, image_url, additional_image_urls: null
        + "02"
        + _long(3)
        + "01fb6c"  # current_price: 129900 (scale 4), 3 big-endian bytes
        + "00" * 3  # original_price, discount_percentage, currency: null
        + "02"
        + "00"  # stock_availability: branch 1, IN_STOCK (symbol 0)
        + "00" * 3  # gtin, mpn, sku: null
    )
    v1, v2 = schemas.all_versions()
    value = codec.encode(EVENT, v1)
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == v1.fingerprint_bytes
    assert value[10:].hex() == body
    # v2 appends two optional fields (null: branch 0 each) and has its own fingerprint.
    newer = codec.encode(EVENT)
    assert newer[2:10] == v2.fingerprint_bytes != v1.fingerprint_bytes
    assert newer[10:].hex() == body + "00" + "00"


def test_round_trip_keeps_every_field() -> None:
    assert codec.decode(codec.encode(EVENT)) == EVENT


def test_decode_rejects_values_that_are_not_ours() -> None:
    with pytest.raises(DecodeError, match="C3 01"):
        codec.decode(b'{"json": true}')
    with pytest.raises(DecodeError, match="unknown writer schema"):
        codec.decode(b"\xc3\x01" + b"\x00" * 8 + b"\x00")
    with pytest.raises(DecodeError, match="corrupt"):
        codec.decode(codec.encode(EVENT)[:20])


def test_key_is_readable_text_and_round_trips() -> None:
    key = keys.product_key("42", "sku:1")
    assert key == b"42:sku:1"
    assert keys.parse_key(key) == ("42", "sku:1")
    with pytest.raises(ContractError):
        keys.product_key("4:2", "x")
    with pytest.raises(ContractError):
        keys.parse_key(b"no-separator")


@pytest.mark.parametrize(
    ("key", "java_murmur2"),
    [  # values from Apache Kafka's own UtilsTest (signed Java ints)
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_partition_is_the_java_clients_murmur2(key: bytes, java_murmur2: int) -> None:
    assert keys.partition_for(key, 6) == (java_murmur2 & 0x7FFFFFFF) % 6


def test_product_topic_is_compacted_with_explicit_settings() -> None:
    spec = topics.product_topic(partitions=6, replication_factor=3)
    assert spec.configs["cleanup.policy"] == "compact"
    assert spec.configs["min.insync.replicas"] == "2"
    assert spec.configs["min.compaction.lag.ms"] == str(7 * 24 * 3600 * 1000)
    assert topics.product_topic(replication_factor=1).configs["min.insync.replicas"] == "1"


@pytest.mark.parametrize(("replicas", "min_insync"), [(1, 1), (2, 2), (3, 2), (5, 2)])
def test_an_acknowledged_write_is_on_two_brokers_whenever_there_are_two(
    replicas: int, min_insync: int
) -> None:
    for spec in topics.contract_topics(replication_factor=replicas):
        assert spec.configs["min.insync.replicas"] == str(min_insync), spec.name


def test_values_of_every_version_are_read_with_the_current_schema() -> None:
    v1, v2 = schemas.all_versions()
    assert schemas.current() is v2
    with_v2 = replace(
        EVENT, shipping_cost=Decimal("4.9900"), sale_ends_at=datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert codec.decode(codec.encode(EVENT, v1)) == EVENT  # v1 data: the v2 fields read as null
    assert codec.decode(codec.encode(with_v2)) == with_v2


def test_reader_returns_typed_events_and_tombstones() -> None:
    key = keys.product_key("42", "sku-1")
    assert reader.read(key, codec.encode(EVENT)) == EVENT
    removal = [("source-updated-at", b"2026-01-01T00:00:00+00:00")]
    assert reader.read(key, None, removal) == reader.Tombstone(
        "42", "sku-1", datetime(2026, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(ContractError, match="does not match"):
        reader.read(b"42:other", codec.encode(EVENT))
    with pytest.raises(ContractError, match="no key"):
        reader.read(None, codec.encode(EVENT))


def test_a_tombstones_event_id_is_read_from_its_headers() -> None:
    """Stop 38: a removal marker keeps its removal's id, so its tombstone's is read too (the
    receiver writes the event's headers on both records)."""
    key = keys.product_key("42", "sku-1")
    written = writing.product_records(replace(EVENT, change_type=ChangeType.REMOVED))
    assert written.values[1] is None  # (the tombstone)
    found = reader.read(key, None, written.headers)
    assert isinstance(found, reader.Tombstone)
    assert found.event_id == str(EVENT.event_id)
    upper = [("event-id", str(EVENT.event_id).upper().encode())]
    assert reader.read(key, None, upper) == reader.Tombstone(
        "42", "sku-1", None, str(EVENT.event_id)
    )
    for bad in (b"not-a-uuid", b"\xff"):  # (a tool's: no id, the removal still read, break38a)
        assert reader.read(key, None, [("event-id", bad)]) == reader.Tombstone("42", "sku-1", None)


def test_schema_versions_are_full_transitive_compatible() -> None:
    assert compat.incompatibilities(schemas.all_versions()) == []


def test_the_policy_catches_an_incompatible_schema() -> None:
    broken = schemas.load_version(Path(__file__).parents[1] / "schemas" / "incompatible.avsc", 99)
    problems = compat.incompatibilities([*schemas.all_versions(), broken])
    assert problems  # v99 adds a field with no default and retypes another
    assert any("v99 cannot read data written with v1" in p for p in problems)
    assert any("cannot read data written with v99" in p for p in problems)
