"""The generated reader (codec.decode's, issue #11) reads exactly the event the fastavro path
reads, and refuses (leaves to it) whatever that path refuses. The fastavro path is kept here as
the oracle: `from_record(decode_record(value))`, fastavro's read with its logical readers."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalog_contract import codec, schemas
from catalog_contract.avro_type_readers import read_long
from catalog_contract.errors import DecodeError
from catalog_contract.events import Availability, ChangeType, ProductChange, value_reader
from tests.event_strategies import optional_texts, prices, texts, times
from tests.examples import examples

V1, V2 = schemas.all_versions()
READERS = {codec.MAGIC + v.fingerprint_bytes: value_reader(v.parsed, V2.parsed) for v in (V1, V2)}


def oracle(value: bytes) -> ProductChange:
    return ProductChange.from_record(codec.decode_record(value))


def exact(event: ProductChange) -> list[tuple[str, type, str, object]]:
    """Every field's type and repr (a Decimal's digits and exponent, a time's zone), a UUID's
    is_safe too: `==` alone says Decimal("1.0") == Decimal("1.00")."""
    return [
        (f.name, type(v), repr(v), getattr(v, "is_safe", None))
        for f in dataclasses.fields(event)
        for v in [getattr(event, f.name)]
    ]


def outcome(read: Callable[[bytes], ProductChange], value: bytes) -> object:
    try:
        return exact(read(value))
    except DecodeError as exc:
        return ("refused", str(exc))


def assert_agrees(value: bytes) -> bool:
    """codec.decode gives what the oracle gives (the same event, or DecodeError with the same
    reason); the generated reader gives the same event or raises. True: it read the value."""
    expected = outcome(oracle, value)
    assert outcome(codec.decode, value) == expected
    read = READERS.get(bytes(value[: codec.HEADER_SIZE]))
    if read is None:
        return False
    try:
        got = exact(read(value))
    except Exception:  # declined: codec.decode asks fastavro (checked above)
        return False
    assert got == expected
    return True


_lists = st.none() | st.lists(texts, max_size=4).map(tuple)


@st.composite
def events(draw: st.DrawFn) -> ProductChange:
    return ProductChange(
        event_id=draw(st.uuids(version=None) | st.uuids(version=4)),
        received_at=draw(times),
        source_updated_at=draw(st.none() | times),
        change_type=draw(st.sampled_from(ChangeType)),
        catalog_id=draw(texts),
        catalog_item_id=draw(texts),
        name=draw(optional_texts),
        description=draw(optional_texts),
        manufacturer=draw(optional_texts),
        category=draw(optional_texts),
        labels=draw(_lists),
        url=draw(optional_texts),
        mobile_url=draw(optional_texts),
        image_url=draw(optional_texts),
        additional_image_urls=draw(_lists),
        current_price=draw(prices),
        original_price=draw(prices),
        discount_percentage=draw(st.none() | st.integers(-(2**31), 2**31 - 1)),
        currency=draw(optional_texts),
        stock_availability=draw(st.none() | st.sampled_from(Availability)),
        gtin=draw(optional_texts),
        mpn=draw(optional_texts),
        sku=draw(optional_texts),
        sale_ends_at=draw(st.none() | times),
        shipping_cost=draw(prices),
    )


SMALL = ProductChange(
    event_id=uuid.UUID(int=1),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    change_type=ChangeType.CREATED,
    catalog_id="c",
    catalog_item_id="i",
)


def test_every_product_schema_version_has_a_generated_reader() -> None:
    assert all(read is not None for read in READERS.values())


@settings(max_examples=examples(400, 40))
@given(events(), st.sampled_from([V1, V2]))
def test_an_event_reads_exactly_as_fastavro_reads_it(event: ProductChange, version: Any) -> None:
    assert assert_agrees(codec.encode(event, version))  # read by the generated reader itself


@settings(max_examples=examples(600, 40))
@given(events(), st.sampled_from([V1, V2]), st.data())
@example(SMALL, V2, None)
def test_damaged_values_are_refused_or_read_exactly_as_fastavro_does(
    event: ProductChange, version: Any, data: st.DataObject | None
) -> None:
    value = codec.encode(event, version)
    if data is None:
        cuts = range(len(value))  # the explicit example: every cut
        for cut in cuts:
            assert_agrees(value[:cut])
        return
    at = data.draw(st.integers(codec.HEADER_SIZE, len(value)))
    damage = data.draw(st.sampled_from(["cut", "set", "insert", "append"]))
    noise = data.draw(st.binary(min_size=1, max_size=12))
    if damage == "cut":
        assert_agrees(value[:at])
    elif damage == "set":
        assert_agrees(value[:at] + noise[:1] + value[at + 1 :])
    elif damage == "insert":
        assert_agrees(value[:at] + noise + value[at:])
    else:
        assert_agrees(value + noise)


def _long(n: int) -> bytes:
    n = (n << 1) ^ (n >> 127)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return _long(len(raw)) + raw


BASE = {
    "event_id": _string("6f1c2a52-3f0e-4d7e-9a43-5c1b0d3e8f21"),
    "received_at": _long(1_790_000_000_000_000),
    "source_updated_at": b"\x00",
    "change_type": _long(1),
    "catalog_id": _string("c"),
    "catalog_item_id": _string("i"),
}


def _value(**raw: bytes) -> bytes:
    """A v2 value whose fields are BASE's (every optional one null) but the raw bodies given."""
    body = b"".join(
        {**BASE, **raw}.get(field["name"], b"\x00") for field in V2.definition["fields"]
    )
    return codec.MAGIC + V2.fingerprint_bytes + body


UUID_TEXT = "6f1c2a52-3f0e-4d7e-9a43-5c1b0d3e8f21"


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"name": b"\x80\x00"},  # union branch 0 (null) as a two-byte varint
        {"name": b"\x82\x00" + _string("x")},  # branch 1 in two bytes
        {"name": b"\x01" + _string("x")},  # branch -1
        {"name": b"\x04" + _string("x")},  # branch 2 of a two-branch union
        {"name": b"\x02" + _string(b"\xed\xa0\x80")},  # a surrogate, UTF-8-encoded
        {"name": b"\x02" + _string(b"a\x00\xff")},  # not UTF-8
        {"name": b"\x02" + _string("\x00")},
        {"name": b"\x02" + b"\x01"},  # length -1
        {"name": b"\x02" + b"\x80\x00"},  # length 0 in two bytes
        {"change_type": b"\x01"},  # symbol -1
        {"change_type": b"\x06"},  # symbol 3 of 3
        {"change_type": b"\x80\x00"},
        {"stock_availability": b"\x02\x0a"},  # UNKNOWN, never written
        {"stock_availability": b"\x02\x0c"},  # symbol 6 of 6
        *({"stock_availability": b"\x02" + _long(i)} for i in range(6)),
        {"labels": b"\x02\x00"},  # an empty list
        {"labels": b"\x02\x80\x00"},  # its end in two bytes
        {"labels": b"\x02" + _long(-2) + _long(4) + _string("a") + _string("b") + b"\x00"},
        {"labels": b"\x02" + _long(2) + _string("a") + _string("b") + _long(1) + b"\x00\x00"},
        {"labels": b"\x02" + _long(2) + _string("a")},  # cut short
        {"current_price": b"\x02\x00"},  # no bytes: 0
        {"current_price": b"\x02" + _string(b"\xff")},  # -1
        {"current_price": b"\x02" + _string((10**18 - 1).to_bytes(8, "big", signed=True))},
        {"current_price": b"\x02" + _string((-(10**18) + 1).to_bytes(8, "big", signed=True))},
        {"current_price": b"\x02" + _string((10**18).to_bytes(8, "big", signed=True))},
        {"current_price": b"\x02" + _string((10**25 + 5).to_bytes(11, "big", signed=True))},
        {"current_price": b"\x02" + _string(b"\x80" + b"\x00" * 40)},
        {"discount_percentage": b"\x02" + _long(2**31 - 1)},
        {"discount_percentage": b"\x02" + _long(-(2**31))},
        {"discount_percentage": b"\x02" + _long(2**31)},
        {"discount_percentage": b"\x02" + _long(2**62)},
        {"received_at": _long(2**62)},  # beyond year 9999
        {"received_at": _long(-62_135_596_800_000_000)},  # 0001-01-01
        {"received_at": _long(-62_135_596_800_000_001)},
        {"received_at": _long(253_402_300_799_999_999)},  # 9999-12-31T23:59:59.999999
        {"received_at": _long(253_402_300_800_000_000)},
        {"received_at": _long(-1)},
        {"received_at": b"\x80" * 9 + b"\x00"},  # 10 bytes
        {"received_at": b"\xff" * 10 + b"\x01"},  # 11 bytes
        {"sale_ends_at": b"\x02" + _long(0)},
        {"event_id": _string(UUID_TEXT.upper())},
        {"event_id": _string("{" + UUID_TEXT + "}")},
        {"event_id": _string("urn:uuid:" + UUID_TEXT)},
        {"event_id": _string(UUID_TEXT.replace("-", ""))},
        {"event_id": _string("0x" + UUID_TEXT.replace("-", "")[2:])},
        {"event_id": _string(" " + UUID_TEXT.replace("-", "")[1:])},
        {"event_id": _string("+" + UUID_TEXT.replace("-", "")[1:])},
        {"event_id": _string("_" + UUID_TEXT.replace("-", "")[1:])},
        {"event_id": _string(UUID_TEXT[:-1])},
        {"event_id": _string(UUID_TEXT[:-1] + "g")},
        {"event_id": _string("")},
        {"catalog_id": _string("")},
    ],
)
def test_hostile_bodies_are_read_or_refused_as_fastavro_does(raw: dict[str, bytes]) -> None:
    assert_agrees(_value(**raw))


@pytest.mark.parametrize(
    "value",
    [
        b"",
        codec.MAGIC,
        codec.MAGIC + V2.fingerprint_bytes,
        codec.MAGIC + bytes(8) + b"\x00",  # an unknown fingerprint
        b"\xc3\x02" + V2.fingerprint_bytes + _value()[10:],
        _value() + b"\x00\xff\xff",  # trailing bytes: fastavro reads no further
    ],
)
def test_headers_and_lengths_are_refused_or_read_as_before(value: bytes) -> None:
    assert_agrees(value)


def test_a_bytearray_value_reads_as_before() -> None:
    value = _value()
    assert exact(codec.decode(bytearray(value))) == exact(oracle(bytearray(value)))  # type: ignore[arg-type]


@settings(max_examples=examples(500, 50))
@given(st.integers(-(2**62), 2**62 - 1), st.binary(max_size=3))
def test_a_long_reads_as_written_whatever_its_length(n: int, after: bytes) -> None:
    """Every length of varint, the 8-byte one (read as one int) included; cut short, a varint
    reads as ending past the data (the generated reader then declines the value)."""
    raw = _long(n)
    assert read_long(raw + after, 0) == (n, len(raw))
    try:
        _, end = read_long(raw[:-1], 0)
    except IndexError:
        return
    assert end > len(raw) - 1


def test_the_codec_reads_every_version_with_its_generated_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fastavro(*_: object) -> None:
        raise AssertionError("fastavro was asked to read")

    event = dataclasses.replace(SMALL, name="Mug", labels=("a",), current_price=Decimal("1.5000"))
    monkeypatch.setattr(fastavro, "schemaless_reader", no_fastavro)
    for version in (V1, V2):
        assert exact(codec.decode(codec.encode(event, version))) == exact(event)
