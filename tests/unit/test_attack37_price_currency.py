"""Attack (stop 37): a price written with its currency code (`12.99 EUR`, README's own example)
was read as its number only, the code dropped. So a postback with `Currency: USD` and
`CurrentPrice: 12.99 EUR` was answered 200 as 12.99 USD; `USD 12.99 EUR` as 12.99 in no
currency; `CurrentPrice: 12.99 EUR` beside `OriginalPrice: 15 GBP` as two prices of one
(unknown) currency; and `12.99 EUR` alone lost its currency. Each failed before.

Now the codes written beside prices must agree with each other and with `Currency` (422 naming
the price otherwise); with no `Currency`, a price's code is the currency. A symbol (`$12.99`)
does not say which currency ($ is USD, CAD, AUD ...): it says nothing. No I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from catalog_contract.events import ProductChange
from receiver.errors import InvalidPostback
from receiver.intake import change_from_request

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _change(**points: str) -> ProductChange:
    body = json.dumps({"CatalogId": "1", "CatalogItemId": "2", **points}).encode()
    return change_from_request("POST", "application/json", "", body, AT, {})


def _problems(**points: str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidPostback) as caught:
        _change(**points)
    return [(p.field, p.reason) for p in caught.value.problems]


def test_a_price_in_another_currency_than_currency_says_is_refused() -> None:
    assert _problems(CurrentPrice="12.99 EUR", Currency="USD") == [
        ("CurrentPrice", "in EUR, but Currency says USD")
    ]


def test_a_price_with_two_currencies_is_refused() -> None:
    assert _problems(CurrentPrice="USD 12.99 EUR") == [
        ("CurrentPrice", "in EUR, but CurrentPrice says USD")
    ]


def test_two_prices_in_two_currencies_are_refused() -> None:
    assert _problems(CurrentPrice="12.99 eur", OriginalPrice="GBP 15") == [
        ("OriginalPrice", "in GBP, but CurrentPrice says EUR")
    ]


def test_a_prices_code_is_the_currency_when_none_is_sent() -> None:
    change = _change(CurrentPrice="12.99 eur", OriginalPrice="EUR15")
    assert (change.current_price, change.original_price, change.currency) == (
        _change(CurrentPrice="12.99").current_price,
        _change(OriginalPrice="15").original_price,
        "EUR",
    )


@pytest.mark.parametrize(
    "points",
    [
        {"CurrentPrice": "12.99 EUR", "Currency": "eur"},
        {"CurrentPrice": "$12.99", "Currency": "CAD"},
        {"CurrentPrice": "12.99", "OriginalPrice": "15 €", "Currency": "EUR"},
    ],
)
def test_agreeing_codes_and_symbols_are_read_as_before(points: dict[str, str]) -> None:
    change = _change(**points)
    assert change.currency == points["Currency"].upper()
    assert change.current_price is not None


def test_a_price_that_does_not_read_is_refused_for_its_number_only() -> None:
    assert _problems(CurrentPrice="12.999999 EUR", Currency="USD") == [
        ("CurrentPrice", "more than 4 decimal places: '12.999999 EUR'")
    ]
