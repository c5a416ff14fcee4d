"""The receiver's cheaper steps (issue #11) give exactly what the steps they replaced gave:
the event id made without `UUID.__init__`, its text remembered per event (text_forms), and a
JSON body of text only returned without its copy. The replaced code is kept here as the oracle."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import CONTENT_FIELDS, ChangeType
from catalog_contract.text_forms import uuid_text
from receiver import formats, postback
from receiver.errors import UnreadableBody
from receiver.postback import EVENT_ID_NAMESPACE, event_id_for
from tests.hostile_inputs import fuzz_settings, json_values


def _replaced_event_id_for(content: dict[str, Any]) -> uuid.UUID:
    canonical = ",".join(
        [
            "null"
            if (value := content.get(name)) is None
            else json.encoder.encode_basestring(str(value))
            for name in CONTENT_FIELDS
        ]
    )
    name = EVENT_ID_NAMESPACE.bytes + f"[{canonical}]".encode()
    digest = hashlib.sha1(name, usedforsecurity=False).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def _replaced_from_json(body: bytes) -> dict[str, Any]:
    """from_json before: every value through `_text`, into a new dict."""
    document = formats._JSON_DECODER.decode(
        body.decode(json.detect_encoding(body), "surrogatepass")
    )
    if not isinstance(document, dict):
        raise UnreadableBody("JSON body must be an object of data points")
    return {key: formats._text(value, key) for key, value in document.items()}


def _same_uuid(found: uuid.UUID, expected: uuid.UUID) -> None:
    """Indistinguishable: value, type, every attribute, hash, and through pickle and copy."""
    assert type(found) is uuid.UUID
    assert (found.int, found.is_safe, found.version, found.variant) == (
        expected.int,
        expected.is_safe,
        expected.version,
        expected.variant,
    )
    assert (found, hash(found), str(found), repr(found), found.bytes) == (
        expected,
        hash(expected),
        str(expected),
        repr(expected),
        expected.bytes,
    )
    assert pickle.loads(pickle.dumps(found)) == expected  # noqa: S301 - our own bytes
    assert copy.deepcopy(found) == expected


def test_an_event_id_is_the_one_main_gave() -> None:
    """The exact id of a fixed content, as the code before the change gave it."""
    content = {
        "catalog_id": "7",
        "catalog_item_id": "sku-1",
        "change_type": ChangeType.UPDATED,
        "name": "Mug",
    }
    found = event_id_for(content)
    assert str(found) == "159801c0-8ce0-55bc-90d0-fd8257146f6d"
    _same_uuid(found, uuid.UUID("159801c0-8ce0-55bc-90d0-fd8257146f6d"))
    assert found.is_safe is uuid.SafeUUID.unknown


@given(st.lists(st.none() | st.text(max_size=12), min_size=len(CONTENT_FIELDS)))
def test_event_ids_are_what_uuid_init_made(texts: list[str | None]) -> None:
    content = dict(zip(CONTENT_FIELDS, texts, strict=False))
    _same_uuid(event_id_for(content), _replaced_event_id_for(content))


def test_uuid_text_is_str() -> None:
    value = uuid.UUID("00000000-0000-0000-0000-0000000000ff")
    assert uuid_text(value) == "00000000-0000-0000-0000-0000000000ff"
    assert uuid_text(value) == "00000000-0000-0000-0000-0000000000ff"  # remembered
    assert uuid_text(uuid.UUID(int=0)) == "00000000-0000-0000-0000-000000000000"


@given(st.lists(st.integers(0, 3), max_size=20), st.lists(st.uuids(), min_size=4, max_size=4))
def test_uuid_text_never_gives_another_ids_text(picks: list[int], ids: list[uuid.UUID]) -> None:
    """Ids asked for in any order, repeated or alternating, objects equal or not (a fresh
    object of an id remembered gives its own, equal, text): always `str` of the one asked."""
    for pick in picks:
        value = ids[pick] if pick % 2 else uuid.UUID(int=ids[pick].int)
        assert uuid_text(value) == str(value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"CatalogId":"7","Name":"Mug"}', {"CatalogId": "7", "Name": "Mug"}),
        (b'{"CatalogId":7,"Name":"Mug"}', {"CatalogId": "7", "Name": "Mug"}),
        (b'{"Name":null,"On":true}', {"Name": "", "On": "true"}),
        (b'{"Labels":["a","b"]}', {"Labels": ["a", "b"]}),
        (b'{"Name":"a","Name":"b"}', {"Name": ["a", "b"]}),
        (b"{}", {}),
    ],
)
def test_json_bodies_read_exactly(body: bytes, expected: dict[str, Any]) -> None:
    assert formats.from_json(body) == expected


def test_json_nested_object_is_refused_after_an_all_text_start() -> None:
    with pytest.raises(UnreadableBody) as refused:
        formats.from_json(b'{"CatalogId":"7","Name":{"a":"b"}}')
    assert (refused.value.status, refused.value.reason) == (
        422,
        "JSON field 'Name' must be text, a number or a list of them",
    )


def _outcome(read: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "read", read(body)
    except UnreadableBody as exc:
        return "refused", (exc.status, exc.reason)


@fuzz_settings(400)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_json_bodies_read_as_the_copy_read_them(document: dict[str, Any]) -> None:
    """Any JSON object of text, numbers, nulls, booleans, lists and objects: the same points
    (value for value, type for type) or the same refusal as every value copied through _text."""
    body = json.dumps(document).encode()
    found, expected = _outcome(formats.from_json, body), _outcome(_replaced_from_json, body)
    assert found == expected
    if found[0] == "read":
        assert [type(v) for v in found[1].values()] == [type(v) for v in expected[1].values()]


@given(
    st.dictionaries(
        st.sampled_from([*CONTENT_FIELDS, "event_id", "received_at", "unknown"]),
        st.none() | st.text(max_size=8) | st.integers() | st.sampled_from(list(ChangeType)),
    )
)
def test_event_ids_of_partial_content_in_any_order(content: dict[str, Any]) -> None:
    """The id is filled from the content's own items: fields missing, None, in any order, and
    keys that are not content fields (ignored) give the id the field-by-field lookup gave."""
    _same_uuid(event_id_for(content), _replaced_event_id_for(content))
    reordered = dict(reversed(content.items()))
    assert event_id_for(reordered) == event_id_for(content)


@given(st.binary(max_size=300))
def test_the_content_ids_sha1_is_hashlibs(data: bytes) -> None:
    assert postback._sha1(data).digest() == hashlib.sha1(data, usedforsecurity=False).digest()


@fuzz_settings(300)
@given(st.lists(st.none() | st.text(max_size=200), min_size=len(CONTENT_FIELDS)))
def test_event_ids_of_long_and_any_text_are_what_uuid_init_made(texts: list[str | None]) -> None:
    """Several SHA-1 blocks, every Unicode plane: the id is uuid5's of the same text."""
    content = dict(zip(CONTENT_FIELDS, texts, strict=False))
    _same_uuid(event_id_for(content), _replaced_event_id_for(content))
