"""Attack (stop 38): a POST's query string was never read. `POST ?CurrentPrice=3` with a JSON
body without a price was answered 200 and published without the price; with a body price of 5,
as 5, the query's 3 dropped silently. Both failed before.

The partner configures the URL the platform calls, so a data point can be written into it (a
catalog's own endpoint, `?CatalogId=42`). Now a POST's query-string data points are read as a
GET's are, beside the body's: a data point given in both must be given the same (else 422
naming it, as a repeated key is refused); a parameter that is no data point (a token) is ignored
as before. Generated: any split of a postback's data points between the query string and a body
(JSON, form, XML) gives what the GET with all of them gives. No I/O."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import ProductChange
from receiver.deadletter import REDACTED
from receiver.errors import InvalidPostback
from receiver.intake import change_from_request
from tests.hostile_inputs import fuzz_settings
from tests.receiver_harness import Answer, call, recording_app

AT = datetime(2026, 12, 2, 1, tzinfo=UTC)
JSON = "application/json"


def _post(query: str, **points: str) -> ProductChange:
    return change_from_request("POST", JSON, query, json.dumps(points).encode(), AT, {})


def _get(**points: str) -> ProductChange:
    return change_from_request("GET", None, urlencode(points), b"", AT, {})


def test_a_data_point_in_a_posts_query_string_is_published() -> None:
    change = _post("CurrentPrice=3", CatalogId="1", CatalogItemId="2")
    assert change == _get(CatalogId="1", CatalogItemId="2", CurrentPrice="3")
    assert str(change.current_price) == "3.0000"


def test_a_data_point_given_differently_in_the_query_and_the_body_is_refused() -> None:
    with pytest.raises(InvalidPostback) as caught:
        _post("CurrentPrice=3&catalogid=1", CatalogId="1", CatalogItemId="2", CurrentPrice="5")
    assert [(p.field, p.reason) for p in caught.value.problems] == [
        ("CurrentPrice", "given in the query string and in the body, with different values")
    ]


def test_a_data_point_given_the_same_in_both_is_read_once() -> None:
    change = _post("CatalogId=1&CurrentPrice=3", CatalogId="1", CatalogItemId="2", CurrentPrice="3")
    assert change == _get(CatalogId="1", CatalogItemId="2", CurrentPrice="3")


def test_the_field_map_applies_to_the_query_string_too() -> None:
    body = json.dumps({"CatalogId": "1", "item": "2"}).encode()
    change = change_from_request(
        "POST", JSON, "p=3", body, AT, {"item": "CatalogItemId", "p": "CurrentPrice"}
    )
    assert change == _get(CatalogId="1", CatalogItemId="2", CurrentPrice="3")


def test_parameters_that_are_no_data_points_are_ignored_as_before() -> None:
    change = _post(
        "token=s3cr3t-Token&source=platform&CatalogId=", CatalogId="1", CatalogItemId="2"
    )
    assert change == _get(CatalogId="1", CatalogItemId="2")


def test_escapes_that_are_no_utf8_refuse_a_data_point_only() -> None:
    # A parameter that is no data point was never read: its escapes must not refuse the POST.
    assert _post("tag=caf%E9", CatalogId="1", CatalogItemId="2") == _get(
        CatalogId="1", CatalogItemId="2"
    )
    with pytest.raises(InvalidPostback) as caught:
        _post("Name=caf%E9", CatalogId="1", CatalogItemId="2")
    assert [p.field for p in caught.value.problems] == ["Name"]


def test_through_the_app_the_header_authenticates_and_a_token_parameter_stays_redacted() -> None:
    # The credential is the custom header (platform notes); a token a partner also put in the
    # URL is no data point: ignored when the postback is accepted, redacted when it is kept.
    app, publisher = recording_app()
    body = json.dumps({"CatalogId": "1", "CatalogItemId": "2", "CurrentPrice": "5"}).encode()

    async def both() -> tuple[Answer, Answer]:
        first = await call(
            app, "POST", body=body, content_type=JSON, query=b"token=t0k3n-in-url&Currency=EUR"
        )
        second = await call(
            app, "POST", body=body, content_type=JSON, query=b"token=t0k3n-in-url&CurrentPrice=3"
        )
        return first, second

    accepted, refused = asyncio.run(both())
    assert accepted.status == 200
    expected = _get(CatalogId="1", CatalogItemId="2", CurrentPrice="5", Currency="EUR")
    assert accepted.json()["event_id"] == str(expected.event_id)
    assert refused.status == 422
    assert refused.content_type == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["CurrentPrice"]
    [letter] = publisher.dead_letters()
    assert letter.query == f"token={REDACTED}&CurrentPrice=3"


def test_the_openapi_document_lists_a_posts_query_data_points_as_optional() -> None:
    app, _ = recording_app()
    operation = app.openapi()["paths"]["/v1/postbacks/product-changes"]["post"]
    listed = {(p["name"], p["in"], p["required"]) for p in operation["parameters"]}
    assert ("CurrentPrice", "query", False) in listed
    assert ("CatalogId", "query", False) in listed  # (the body may carry it instead)


NAMES = ["CatalogId", "CatalogItemId", "Name", "CurrentPrice", "Currency", "StockAvailability"]
VALUES = {
    "CatalogId": "1", "CatalogItemId": "chair-1", "Name": "Chair", "CurrentPrice": "12.99",
    "Currency": "EUR", "StockAvailability": "InStock",
}  # fmt: skip


def _body(kind: str, points: dict[str, str]) -> tuple[str, bytes]:
    if kind == "json":
        return JSON, json.dumps(points).encode()
    if kind == "form":
        return "application/x-www-form-urlencoded", urlencode(points).encode()
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in points.items())
    return "application/xml", f"<postback>{inner}</postback>".encode()


@fuzz_settings(200)
@given(
    st.lists(st.sampled_from(NAMES), unique=True),
    st.sets(st.sampled_from(NAMES)),
    st.sampled_from(["json", "form", "xml"]),
)
def test_any_split_between_query_and_body_reads_as_the_get(
    names: list[str], in_both: set[str], kind: str
) -> None:
    # Each data point in the query string, the body, or both (the same value in both).
    in_query = {n: VALUES[n] for i, n in enumerate(names) if i % 2 == 0 or n in in_both}
    in_body = {n: VALUES[n] for i, n in enumerate(names) if i % 2 == 1 or n in in_both}
    content_type, body = _body(kind, in_body)
    try:
        expected: object = _get(**{n: VALUES[n] for n in names})
    except InvalidPostback as exc:
        expected = [p.field for p in exc.problems]
    try:
        got: object = change_from_request("POST", content_type, urlencode(in_query), body, AT, {})
    except InvalidPostback as exc:
        got = [p.field for p in exc.problems]
    assert got == expected
