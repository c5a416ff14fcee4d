"""Attack (stop 38, break38b): a price written with a currency symbol that names one currency
only (`€12.99`) beside another currency: a `currency="USD"` attribute (read since stop 38 as
`€12.99 USD`), a code after it, or a `Currency` data point. Every symbol was dropped as if
ambiguous ($ is USD, CAD, AUD ...), so each was a 200 publishing 12.99 in the other currency,
a wrong 200 the platform never retries (failed before: each case below). Now a symbol of one
currency says that currency, as its ISO code beside the price does. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from catalog_contract.events import ProductChange
from receiver.errors import InvalidPostback
from receiver.intake import change_from_request
from receiver.values import price_codes

AT = datetime(2026, 12, 2, 1, tzinfo=UTC)
XML = "<p><CatalogId>c</CatalogId><CatalogItemId>i</CatalogItemId>{}</p>"
JSON = '{{"CatalogId": "c", "CatalogItemId": "i", {}}}'


def _change(content_type: str, body: str) -> ProductChange:
    return change_from_request("POST", content_type, "", body.encode(), AT, {}, timedelta(days=1))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", XML.format('<CurrentPrice currency="USD">€12.99</CurrentPrice>')),
        ("application/json", JSON.format('"CurrentPrice": "€12.99 USD"')),
        ("application/json", JSON.format('"CurrentPrice": "12.99 ₹", "Currency": "USD"')),
    ],
)
def test_a_symbol_of_one_currency_beside_another_is_refused(content_type: str, body: str) -> None:
    with pytest.raises(InvalidPostback) as refused:
        _change(content_type, body)
    assert refused.value.problems[0].field == "CurrentPrice"


def test_a_symbol_of_one_currency_says_it() -> None:
    change = _change("application/json", JSON.format('"CurrentPrice": "€12.99"'))
    assert change.currency == "EUR"
    assert price_codes("€ 12.99") == ("EUR",)
    assert price_codes("$12.99") == ()  # (USD, CAD, AUD ...: says none)
