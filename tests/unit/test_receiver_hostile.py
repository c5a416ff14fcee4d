"""Hostile postbacks through the real receiver app (a recording publisher stands in for Kafka):
each gets a deliberate 4xx problem document naming what is wrong, is kept in the dead-letter
topic, and costs work linear in its size. Each case once answered 500 or burned seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from receiver.settings import ReceiverSettings
from tests.receiver_harness import Answer, RecordingPublisher, call, recording_app

GOOD = {"CatalogId": "7", "CatalogItemId": "chair-1", "CurrentPrice": "10.00"}
LIMIT = ReceiverSettings.model_fields["max_body_bytes"].default
# CPU seconds any one request may cost at most: generous (a linear parse of the largest body
# takes a few milliseconds), far below what the quadratic cases took (seconds to minutes).
CPU_BOUND_S = 1.0


def form(points: dict[str, str]) -> bytes:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in points.items()).encode()


def assert_refused(
    answer: Answer, publisher: RecordingPublisher, status: int, field: str | None
) -> None:
    """A problem document with this status (naming `field`), and its dead-letter record."""
    assert answer.status == status, answer.body[:500]
    assert answer.content_type == "application/problem+json"
    document = answer.json()
    assert document["status"] == status
    if field is not None:
        assert field in [e["field"] for e in document["errors"]], document
    letters = publisher.dead_letters()
    assert [letter.request_id for letter in letters] == [document["request_id"]]
    assert letters[0].status == status
    assert publisher.events() == []


async def test_a_json_integer_of_5000_digits_is_a_field_problem() -> None:
    app, publisher = recording_app()
    body = b'{"CatalogId": "7", "CatalogItemId": "a", "DiscountPercentage": 1' + b"0" * 4999 + b"}"
    answer = await call(app, "POST", body=body, content_type="application/json")
    assert_refused(answer, publisher, 422, "DiscountPercentage")


async def test_json_numbers_keep_the_text_they_were_sent_as() -> None:
    app, publisher = recording_app()
    body = b'{"CatalogId": 7, "CatalogItemId": "a", "CurrentPrice": 12.10, "DiscountPercentage": 5}'
    answer = await call(app, "POST", body=body, content_type="application/json")
    assert answer.status == 200, answer.body
    assert len(publisher.events()) == 1


async def test_a_json_body_of_100000_brackets_is_unreadable() -> None:
    app, publisher = recording_app()
    answer = await call(app, "POST", body=b"[" * 100_000, content_type="application/json")
    assert_refused(answer, publisher, 400, None)
    assert "nested too deeply" in answer.json()["detail"]


@pytest.mark.parametrize("field", ["Name", "CatalogItemId", "Labels"])
async def test_an_escaped_lone_surrogate_is_a_field_problem(field: str) -> None:
    app, publisher = recording_app()
    value: object = ["ok", "\ud800"] if field == "Labels" else "x\ud800y"
    body = json.dumps({**GOOD, field: value}).encode()  # ASCII: the surrogate is escaped
    answer = await call(app, "POST", body=body, content_type="application/json")
    assert_refused(answer, publisher, 422, field)
    assert "surrogate" in json.dumps(answer.json()["errors"])


@pytest.mark.parametrize("kind", ["json", "form", "get"])
async def test_a_nul_character_is_refused_because_no_store_can_keep_it(kind: str) -> None:
    app, publisher = recording_app()
    points = {**GOOD, "Name": "desk\x00lamp"}
    if kind == "json":
        answer = await call(
            app, "POST", body=json.dumps(points).encode(), content_type="application/json"
        )
    elif kind == "form":
        answer = await call(
            app, "POST", body=form(points), content_type="application/x-www-form-urlencoded"
        )
    else:
        answer = await call(app, "GET", query=form(points))
    assert_refused(answer, publisher, 422, "Name")


async def test_a_date_before_year_one_in_utc_is_a_field_problem() -> None:
    app, publisher = recording_app()
    body = form({**GOOD, "DateLastUpdated": "0001-01-01T00:00:00+14:00"})
    answer = await call(app, "POST", body=body, content_type="application/x-www-form-urlencoded")
    assert_refused(answer, publisher, 422, "DateLastUpdated")


@pytest.mark.parametrize("value", ["sNaN", "NaN", "-Infinity", "1e2", "5e-1"])
async def test_a_discount_that_is_not_plain_digits_is_a_field_problem(value: str) -> None:
    app, publisher = recording_app()
    body = form({**GOOD, "DiscountPercentage": value})
    answer = await call(app, "POST", body=body, content_type="application/x-www-form-urlencoded")
    assert_refused(answer, publisher, 422, "DiscountPercentage")


async def test_a_last_update_beyond_the_allowed_skew_is_refused() -> None:
    app, publisher = recording_app()
    body = form({**GOOD, "DateLastUpdated": "9999-12-31T23:59:59Z"})
    answer = await call(app, "POST", body=body, content_type="application/x-www-form-urlencoded")
    assert_refused(answer, publisher, 422, "DateLastUpdated")

    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    answer = await call(app, "GET", query=form({**GOOD, "DateLastUpdated": soon}))
    assert answer.status == 200, answer.body  # clocks differ; a day's skew is allowed

    strict, publisher = recording_app(max_future_skew_s=60)
    answer = await call(strict, "GET", query=form({**GOOD, "DateLastUpdated": soon}))
    assert_refused(answer, publisher, 422, "DateLastUpdated")


async def test_a_query_string_longer_than_a_body_may_be_is_refused() -> None:
    app, publisher = recording_app(max_body_bytes=4096)
    query = form({**GOOD, "Description": "d" * 5000})
    answer = await call(app, "GET", query=query)
    assert_refused(answer, publisher, 414, None)


# The worst inputs of the allowed size, for each reader: each must cost well under a second of
# CPU. A spaced price of 8,000 spaces took 2.5 s and 40,000 repeated form keys 1.8 s before.
def _spaced_price(spaces: int) -> str:
    return "1" + " " * spaces + "1"


WORST = {
    "spaced price, 8,000 spaces (json)": (
        "POST",
        "application/json",
        json.dumps({**GOOD, "CurrentPrice": _spaced_price(8000)}).encode(),
    ),
    "spaced price at the size limit (form)": (
        "POST",
        "application/x-www-form-urlencoded",
        form(GOOD).replace(b"10.00", b"1" + b"+" * (LIMIT - 200) + b"1"),
    ),
    "spaced price at the size limit (get)": (
        "GET",
        None,
        form(GOOD).replace(b"10.00", b"1" + b"+" * (LIMIT - 200) + b"1"),
    ),
    "40,000 repeated form keys": ("POST", "application/x-www-form-urlencoded", b"a&" * 40_000),
    "repeated keys at the size limit (form)": (
        "POST",
        "application/x-www-form-urlencoded",
        form(GOOD) + b"&Labels" * ((LIMIT - 100) // 7),
    ),
    "repeated keys at the size limit (get)": ("GET", None, b"a&" * ((LIMIT - 2) // 2)),
    "repeated elements at the size limit (xml)": (
        "POST",
        "application/xml",
        b"<p><CatalogId>1</CatalogId><CatalogItemId>2</CatalogItemId>"
        + b"<Labels>x</Labels>" * ((LIMIT - 100) // 18)
        + b"</p>",
    ),
    "brackets at the size limit (json)": ("POST", "application/json", b"[" * LIMIT),
    "nested elements at the size limit (xml)": ("POST", "application/xml", b"<a>" * (LIMIT // 3)),
    "fields beyond the limit at the size limit (json)": (
        "POST",
        "application/json",
        json.dumps({str(n): "" for n in range(LIMIT // 12)}).encode()[:LIMIT],
    ),
    "digits at the size limit (json)": (
        "POST",
        "application/json",
        b'{"CatalogId": "1", "CatalogItemId": "2", "CurrentPrice": ' + b"9" * (LIMIT - 100) + b"}",
    ),
    "spaced currency at the size limit (json)": (
        "POST",
        "application/json",
        json.dumps({**GOOD, "CurrentPrice": "$" + " " * (LIMIT - 100) + "x"}).encode(),
    ),
    "one long date at the size limit (form)": (
        "POST",
        "application/x-www-form-urlencoded",
        form({**GOOD, "DateLastUpdated": "2026-01-01T00:00:00" + "0" * (LIMIT - 200)}),
    ),
}


@pytest.mark.parametrize("case", list(WORST))
async def test_the_worst_input_of_the_allowed_size_costs_well_under_a_second(case: str) -> None:
    method, content_type, payload = WORST[case]
    assert len(payload) <= LIMIT
    app, publisher = recording_app()
    if method == "GET":
        answer = await call(app, "GET", query=payload)
    else:
        answer = await call(app, "POST", body=payload, content_type=content_type)
    assert answer.status in (200, 400, 422), answer.body[:300]
    assert answer.cpu_s < CPU_BOUND_S, f"{case}: {answer.cpu_s:.2f} s of CPU"
    if answer.status != 200:
        assert len(publisher.dead_letters()) == 1


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"a=1&" * 1_001),
        ("application/json", json.dumps({str(n): "" for n in range(1_001)}).encode()),
        ("application/xml", b"<p>" + b"<a>1</a>" * 1_001 + b"</p>"),
        ("application/xml", b"<p><Labels>" + b"<i>1</i>" * 1_001 + b"</Labels></p>"),
    ],
)
async def test_more_fields_than_any_postback_has_is_unreadable(
    content_type: str, body: bytes
) -> None:
    app, publisher = recording_app()
    answer = await call(app, "POST", body=body, content_type=content_type)
    assert_refused(answer, publisher, 400, None)
    assert "too many fields" in answer.json()["detail"]


async def test_a_list_may_hold_text_and_numbers_but_not_true_or_false() -> None:
    app, publisher = recording_app()
    body = json.dumps({**GOOD, "Labels": ["a", 2, 3.5]}).encode()
    answer = await call(app, "POST", body=body, content_type="application/json")
    assert answer.status == 200, answer.body
    app, publisher = recording_app()
    body = json.dumps({**GOOD, "k": [False, 0]}).encode()  # found by schemathesis
    answer = await call(app, "POST", body=body, content_type="application/json")
    assert_refused(answer, publisher, 422, None)


async def test_an_xml_body_declaring_an_encoding_expat_cannot_read_is_kept_and_400() -> None:
    """Found by the stop-24 attack on the live receiver: `encoding="UTF-7"` was a 500."""
    app, publisher = recording_app()
    body = b'<?xml version="1.0" encoding="UTF-7"?><postback><CatalogId>42</CatalogId></postback>'
    answer = await call(app, "POST", body=body, content_type="application/xml")
    assert_refused(answer, publisher, 400, None)
    assert "XML declares an encoding that cannot be read" in answer.json()["detail"]


async def test_a_repeated_json_key_of_a_single_valued_field_is_refused_by_name() -> None:
    """Found by the stop-24 attack: `{"CatalogId":"42","CatalogId":"43"}` was accepted (200) as
    catalog 43; a form or XML body repeating it was refused."""
    app, publisher = recording_app()
    body = b'{"CatalogId":"42","CatalogItemId":"a","CatalogId":"43"}'
    answer = await call(app, "POST", body=body, content_type="application/json")
    assert_refused(answer, publisher, 422, "CatalogId")
