"""The dead-letter record (contract), its size bound, and the receiver's repeat window. No I/O."""

from __future__ import annotations

import gc
import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract import codec, compat, dead_letters, schemas, topics
from catalog_contract.errors import DecodeError
from receiver.deadletter import dead_letter, dead_letter_record, repeat_key, tally_record
from receiver.errors import FieldProblem
from receiver.repeats import RepeatWindow, Tally
from tests.factories import refused

AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
LETTER = refused(received_at=AT)


def test_record_round_trips_through_its_avro_schema() -> None:
    value = dead_letters.encode(LETTER)
    assert value[:2] == codec.MAGIC
    assert codec.writer_schema(value, schemas.DEAD_LETTER).version == 1
    assert dead_letters.decode(value) == LETTER
    with pytest.raises(DecodeError):  # a product schema reader does not know its fingerprint
        codec.decode_record(value)


def test_every_field_of_a_record_round_trips() -> None:
    tally = replace(LETTER, repeat_of="r0", repeats=3, last_seen_at=AT, content_type=None)
    assert dead_letters.decode(dead_letters.encode(tally)) == tally
    assert dead_letters.DeadLetter.from_record(LETTER.to_record()) == LETTER


def test_dead_letter_schemas_follow_the_same_compatibility_policy() -> None:
    versions = schemas.all_versions(schemas.DEAD_LETTER)
    assert [v.path.name for v in versions] == ["dead_letter.v1.avsc"]
    assert compat.incompatibilities(versions) == []
    # Adding a field without a default breaks forward compatibility: the checker sees it.
    definition = json.loads(versions[0].path.read_text())
    definition["fields"].append({"name": "extra", "type": "string"})
    broken = replace(versions[0], version=2, definition=definition)
    assert compat.incompatibilities([*versions, broken]) != []


def test_a_256_kib_body_of_control_bytes_is_kept_raw_and_fits() -> None:
    # As escaped JSON text (the old format) this was ~1.6 MB, which Kafka refused.
    body = b"\x01" * 262_144
    value = dead_letter_record(
        request_id="r", received_at=AT, method="POST", query="",
        headers={"content-type": "application/json"}, secret_header="X-Postback-Token",
        body=body, status=400, reason="body is not valid JSON",
    )  # fmt: skip
    assert len(body) < len(value) < len(body) + 200  # the body's own size and a few fields
    kept = dead_letters.decode(value)
    assert (kept.body, kept.body_length, kept.truncated) == (body, 262_144, False)


def test_fit_cuts_body_query_and_texts_to_the_limit_with_markers() -> None:
    huge = replace(
        LETTER,
        query="a=" + "b" * 2_000_000,
        body=b"\x00" * 3_000_000,
        body_length=3_000_000,
        reason="x" * 5000,
        problems=tuple((f"F{i}", "\ud800") for i in range(150)),
    )
    fitted = dead_letters.fit(huge)
    value = dead_letters.encode(fitted)
    assert len(value) <= dead_letters.VALUE_LIMIT < topics.MAX_MESSAGE_BYTES
    assert (fitted.body_length, fitted.truncated) == (3_000_000, True)
    assert fitted.query.endswith("… [truncated: 2000002 bytes]")
    assert fitted.reason == "x" * 4096 + "… [truncated: 5000 characters]"
    assert fitted.problems[0] == ("F0", "\\ud800")  # a lone surrogate becomes its escape
    assert fitted.problems[100:] == (("…", "50 more"),)
    assert len(fitted.body) + len(fitted.query.encode()) > 990_000  # the room is used
    small = dead_letters.fit(LETTER)
    assert small == LETTER  # a record that fits is unchanged


def test_fit_respects_any_limit() -> None:
    for limit in (2_000, 10_000, 100_000):
        big = replace(LETTER, body=b"\xff" * 200_000, body_length=200_000, query="q=" * 30_000)
        assert len(dead_letters.encode(dead_letters.fit(big, limit))) <= limit


def test_records_written_as_json_before_the_schema_are_still_read() -> None:
    legacy = json.dumps(
        {
            "request_id": "old-1", "received_at": "2026-11-20T10:00:00+00:00",
            "method": "POST", "query": "", "content_type": "text/plain",
            "headers": {"content-type": "text/plain"}, "body": None, "body_base64": "//4=",
            "status": 415, "reason": "unsupported", "errors": [],
        }
    ).encode()  # fmt: skip
    letter = dead_letters.decode(legacy)
    assert (letter.request_id, letter.body, letter.status, letter.kind) == (
        "old-1",
        b"\xff\xfe",
        415,
        "legacy",
    )
    assert letter.received_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    with pytest.raises(DecodeError):
        dead_letters.decode(b"{not json")


def test_repeat_key_is_the_request_and_the_verdict() -> None:
    key = repeat_key(LETTER)
    assert len(key) == 32
    assert key == repeat_key(replace(LETTER, request_id="r2", received_at=AT, headers=()))
    assert key != repeat_key(replace(LETTER, reason="CurrentPrice: worse"))
    assert key != repeat_key(replace(LETTER, status=400))
    assert key != repeat_key(replace(LETTER, body=LETTER.body + b"!"))
    assert key != repeat_key(replace(LETTER, method="PUT"))
    # How the body is read is part of the request: the same bytes as another type, or another
    # charset, are another request (accept mode answers a repeat 200 without keeping it).
    assert key != repeat_key(replace(LETTER, content_type="application/x-www-form-urlencoded"))
    assert key != repeat_key(replace(LETTER, content_type=None))
    # Two bodies over the limit with the same kept start are different requests.
    assert key != repeat_key(replace(LETTER, body_length=LETTER.body_length + 1))
    # Parts are length-prefixed: moving bytes from the query to the body changes the key.
    assert repeat_key(replace(LETTER, query="ab", body=b"c", body_length=1)) != repeat_key(
        replace(LETTER, query="a", body=b"bc", body_length=2)
    )


def test_repeat_window_counts_repeats_and_tallies_them_when_the_entry_leaves() -> None:
    window = RepeatWindow(ttl_s=10, max_entries=2)
    assert window.repeat(b"k1", now=0, wall=0) is None
    window.add(b"k1", "r1", 422, "invalid-postback", now=0)
    assert window.repeat(b"k1", now=1, wall=1_764_000_000) == "r1"
    assert window.repeat(b"k1", now=9, wall=1_764_000_008) == "r1"
    assert window.closed(now=9) == []
    assert window.repeat(b"k1", now=10.5, wall=0) is None  # the window passed: write it again
    assert window.closed(now=10.5) == [
        Tally("r1", 422, "invalid-postback", 2, datetime.fromtimestamp(1_764_000_008, UTC))
    ]
    assert window.closed(now=10.5) == []  # each tally once


def test_repeat_window_is_bounded_and_evicts_oldest_first() -> None:
    window = RepeatWindow(ttl_s=100, max_entries=2)
    for index, key in enumerate((b"a", b"b", b"c")):
        window.add(key, f"r-{key.decode()}", 400, "unreadable-body", now=index)
        window.repeat(key, now=index, wall=0)
    assert len(window) == 2
    assert window.repeat(b"a", now=3, wall=0) is None
    assert [t.request_id for t in window.closed(now=3)] == ["r-a"]
    assert sorted((t.request_id, t.repeats) for t in window.drain()) == [("r-b", 1), ("r-c", 1)]
    assert len(window) == 0
    gc.collect()  # entries are tuples of atomic values: the collector stops tracking them
    window.add(b"d", "r-d", 422, "invalid-postback", now=5)
    gc.collect()
    assert not any(gc.is_tracked(e) for e in vars(window)["_entries"].values())


def test_a_zero_window_counts_nothing() -> None:
    window = RepeatWindow(ttl_s=0, max_entries=10)
    window.add(b"k", "r", 422, "invalid-postback", now=0)
    assert window.repeat(b"k", now=0, wall=0) is None


def test_tally_record_points_at_the_original() -> None:
    tally = dead_letters.decode(
        tally_record(
            request_id="t1", received_at=AT, repeat_of="r1", status=422, repeats=41,
            last_seen_at=AT,
        )
    )  # fmt: skip
    assert (tally.kind, tally.repeat_of, tally.repeats, tally.body) == ("repeats", "r1", 41, b"")
    assert tally.reason == "41 identical repeats of r1, not written again"


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=40_000),
    query=st.text(max_size=20_000),
    reason=st.text(max_size=9_000),
    headers=st.lists(st.tuples(st.text(max_size=40), st.text(max_size=6_000)), max_size=120),
    limit=st.integers(min_value=8_000, max_value=60_000),
)
def test_any_request_fits_any_limit_and_keeps_what_it_can(
    body: bytes, query: str, reason: str, headers: list[tuple[str, str]], limit: int
) -> None:
    letter = replace(
        LETTER, body=body, body_length=len(body), query=query, reason=reason, headers=tuple(headers)
    )
    fitted = dead_letters.fit(letter, limit)
    value = dead_letters.encode(fitted)
    assert len(value) <= limit
    assert dead_letters.decode(value) == fitted
    assert fitted.body == body[: len(fitted.body)]
    assert fitted.body_length == len(body)
    if (
        len(dead_letters.encode(dead_letters.fit(replace(letter, body=b"", query=""), limit)))
        + len(body)
        + len(query.encode("utf-8", "backslashreplace"))
        + 100
        < limit
    ):
        assert fitted.body == body  # nothing is cut when everything fits


def test_no_credential_is_kept_in_headers_query_body_or_reasons() -> None:
    secret = "s3cr3t-Token/with+plus=="
    quoted = "s3cr3t-Token%2Fwith%2Bplus%3D%3D"
    letter = dead_letter(
        request_id="r1",
        received_at=AT,
        method="GET",
        query=f"CatalogId=7&x-postback-token={quoted}&access_token=other;x&CatalogItemId={secret}",
        headers={
            "x-postback-token": secret,
            "proxy-authorization": "Basic dXNlcjpwYXNz",
            "x-forwarded-token": f"copy {secret}",
            "cookie": "session=1",
            "authorization": "Bearer abc",
            "user-agent": "platform/1.0",
        },
        secret_header="X-Postback-Token",
        secrets=[secret],
        body=f'{{"CatalogId": "7", "note": "{secret}"}}'.encode(),
        status=422,
        reason=f"CatalogItemId: may not contain '/': '{secret}'",
        problems=[FieldProblem("CatalogItemId", f"may not contain '/': '{secret}'")],
        kind="invalid-postback",
    )
    stored = dead_letters.decode(dead_letters.encode(letter))
    kept = repr(stored)
    for credential in (secret, quoted, "dXNlcjpwYXNz", "Bearer abc", "session=1", "other"):
        assert credential not in kept
    assert stored.headers == (
        ("x-forwarded-token", "copy [redacted]"),
        ("user-agent", "platform/1.0"),
    )
    assert stored.query == (
        "CatalogId=7&x-postback-token=[redacted]&access_token=[redacted]&CatalogItemId=[redacted]"
    )
    assert stored.body == b'{"CatalogId": "7", "note": "[redacted]"}'
    assert not stored.truncated  # a redacted body is whole (and can be re-driven)
    assert stored.reason == "CatalogItemId: may not contain '/': '[redacted]'"
    assert stored.problems == (("CatalogItemId", "may not contain '/': '[redacted]'"),)


def test_a_short_secret_does_not_corrupt_the_kept_request() -> None:
    letter = dead_letter(
        request_id="r1", received_at=AT, method="POST", query="", headers={},
        secret_header="X-Postback-Token", secrets=["7"], body=b'{"CatalogId": "7"}',
        status=422, reason="r",
    )  # fmt: skip
    assert letter.body == b'{"CatalogId": "7"}'


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["2026-11-20T10:00:00", "2026-11-20T10:00:00+00:00", "//4="]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_LEGACY = {
    "request_id": "old-1", "received_at": "2026-11-20T10:00:00+00:00", "method": "POST",
    "query": "", "content_type": "text/plain", "headers": {"content-type": "text/plain"},
    "body": "x", "body_base64": None, "status": 415, "reason": "unsupported",
    "errors": [{"field": "F", "reason": "r"}],
}  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({k: st.just(v) | _ANY_JSON for k, v in _LEGACY.items()}))
def test_a_malformed_json_record_is_unreadable_not_a_crash_later(old: dict[str, object]) -> None:
    # A JSON record of the wrong shape (a hand-written or damaged one) must be refused when read,
    # not become a dead letter whose `method` is a bool or whose time has no zone: those crashed
    # `summary` (comparing times) and `redrive` (`method.upper()`) with a traceback.
    try:
        letter = dead_letters.decode(json.dumps(old).encode())
    except DecodeError:
        return
    texts = (letter.request_id, letter.method, letter.query, letter.reason, letter.kind)
    assert all(isinstance(t, str) for t in texts)
    assert letter.content_type is None or isinstance(letter.content_type, str)
    assert type(letter.status) is int
    assert isinstance(letter.body, bytes)
    assert letter.received_at.utcoffset() is not None
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in letter.headers)
    assert all(isinstance(f, str) and isinstance(r, str) for f, r in letter.problems)


def test_redacting_a_query_costs_linear_time() -> None:
    # A query with no "=" made the redaction's regular expression rescan to the end at every
    # position: 12 KB took 1.4 s of CPU, 50 KB 20 s (1 MB would take hours). Linear: far below
    # a second, however loaded the machine.
    def cost(size: int) -> float:
        started = time.process_time()
        letter = dead_letter(
            request_id="r1",
            received_at=AT,
            method="GET",
            query="a" * size,
            headers={},
            secret_header="X-Postback-Token",
            body=b"",
            status=400,
            reason="no data points",
        )
        assert letter.query.startswith("aaaa")
        return time.process_time() - started

    assert cost(1_000_000) < 1.0
