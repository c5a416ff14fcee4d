"""Attack (stop 39): a data point given in a POST's query string and in its body was compared as
text (stop 38's limit). `?CurrentPrice=12.99` beside a JSON body's `"12.990"`, a form's `+42`
beside `42`, an XML body's `12.99 USD` beside `USD 12.99` got a 422 naming the data point:
the same value, written two ways, refused, and the platform retries a 422 for ever. Failed before:
each case below raised InvalidPostback. Now two texts are the same data point when its own
reading gives the same value from both (and, for a price, the same currency codes beside it);
a value that does not read is compared as text, and build_change refuses it as before. No I/O.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from receiver.errors import InvalidPostback
from receiver.intake import change_from_request

AT = datetime(2026, 12, 2, 1, tzinfo=UTC)
IDS = {"CatalogId": "1", "CatalogItemId": "2"}


def _post(query: str, **points: str) -> object:
    body = json.dumps({**IDS, **points}).encode()
    return change_from_request("POST", "application/json", query, body, AT, {})


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("CurrentPrice=12.99", {"CurrentPrice": "12.990"}),
        ("CurrentPrice=12.99%20USD", {"CurrentPrice": "USD 12.99"}),
        ("DiscountPercentage=%2B40", {"DiscountPercentage": "40"}),
        ("DateLastUpdated=2026-12-01T10:00:00Z", {"DateLastUpdated": "2026-12-01T11:00:00+01:00"}),
        ("StockAvailability=InStock", {"StockAvailability": "instock"}),
    ],
)
def test_one_value_written_two_ways_is_read_once(query: str, body: dict[str, str]) -> None:
    name = query.partition("=")[0]
    alone = change_from_request(
        "POST", "application/json", "", json.dumps({**IDS, **body}).encode(), AT, {}
    )
    assert _post(query, **body) == alone, name


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("CurrentPrice=12.99%20EUR", {"CurrentPrice": "12.99 USD"}),
        ("CurrentPrice=12.99%20EUR", {"CurrentPrice": "12.99"}),  # (one says a currency)
        ("CurrentPrice=13", {"CurrentPrice": "12.99"}),
        ("CurrentPrice=abc", {"CurrentPrice": "ABC"}),  # (neither reads: compared as text)
        ("Name=Mug", {"Name": "mug"}),
    ],
)
def test_different_values_are_refused_naming_the_data_point(
    query: str, body: dict[str, str]
) -> None:
    with pytest.raises(InvalidPostback) as caught:
        _post(query, **body)
    name = query.partition("=")[0]
    assert (name, "given in the query string and in the body, with different values") in [
        (p.field, p.reason) for p in caught.value.problems
    ]
