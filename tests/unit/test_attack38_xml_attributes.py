"""Attack (stop 38): an XML body's attributes were ignored. `<CurrentPrice currency="EUR">12.99
</CurrentPrice>` beside `<Currency>USD</Currency>` was answered 200 as 12.99 USD, and alone as
12.99 in no currency; `<CurrentPrice unit="cents">1299</CurrentPrice>` as 1299; a template
writing a data point as an attribute (`<postback CatalogId="{CatalogId}">`, which the
platform's templates allow: the partner writes the body, placeholders anywhere) lost it. Each
failed before.

Now an attribute is read as the JSON and form paths read the same information: a currency
attribute of a price is the code written beside it (`12.99 EUR`: it must agree with Currency, or
is the currency); an attribute named as a data point is that data point, as an element of that
name is; any other attribute of a data point's element that holds a value is refused (422
naming the element and the attribute). Attributes that say nothing of a value are kept out of
it: `xml:lang` and the like, attributes of the root or of an element that is no data point, and
those of an empty element (a value not sent). No I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import ProductChange
from receiver.errors import InvalidPostback
from receiver.intake import change_from_request
from tests.hostile_inputs import fuzz_settings

AT = datetime(2026, 12, 2, 1, tzinfo=UTC)
ITEM = b"<CatalogId>1</CatalogId><CatalogItemId>2</CatalogItemId>"


def _xml(inner: bytes, field_map: dict[str, str] | None = None) -> ProductChange:
    body = b"<postback>" + ITEM + inner + b"</postback>"
    return change_from_request("POST", "application/xml", "", body, AT, field_map or {})


def _json(**points: str) -> ProductChange:
    body = json.dumps({"CatalogId": "1", "CatalogItemId": "2", **points}).encode()
    return change_from_request("POST", "application/json", "", body, AT, {})


def _problems(inner: bytes) -> list[tuple[str, str]]:
    with pytest.raises(InvalidPostback) as caught:
        _xml(inner)
    return [(p.field, p.reason) for p in caught.value.problems]


def test_a_currency_attribute_disagreeing_with_currency_is_refused() -> None:
    inner = b'<CurrentPrice currency="EUR">12.99</CurrentPrice><Currency>USD</Currency>'
    assert _problems(inner) == [("CurrentPrice", "in EUR, but Currency says USD")]


def test_a_currency_attribute_is_the_currency_when_none_is_sent() -> None:
    change = _xml(b'<CurrentPrice Currency="eur">12.99</CurrentPrice>')
    assert change == _json(CurrentPrice="12.99 EUR")
    assert (str(change.current_price), change.currency) == ("12.9900", "EUR")


def test_a_currency_attribute_agreeing_with_currency_is_read_as_the_json_path_reads_it() -> None:
    inner = b'<CurrentPrice currency="EUR">12.99</CurrentPrice><Currency>EUR</Currency>'
    assert _xml(inner) == _json(CurrentPrice="12.99 EUR", Currency="EUR")


def test_an_attribute_that_may_change_a_value_is_refused_by_element_and_name() -> None:
    assert _problems(b'<CurrentPrice unit="cents">1299</CurrentPrice>') == [
        ("CurrentPrice", "XML attribute 'unit' is not read: write what it says as an element")
    ]


def test_an_attribute_of_a_list_item_is_refused_by_its_list() -> None:
    assert _problems(b'<Labels><i>a</i><i scope="x">b</i></Labels>') == [
        ("Labels", "XML attribute 'scope' is not read: write what it says as an element")
    ]


def test_an_attribute_named_as_a_data_point_is_that_data_point() -> None:
    body = b'<postback CatalogId="1" catalogitemid="2"><Name>Mug</Name></postback>'
    change = change_from_request("POST", "text/xml", "", body, AT, {})
    assert change == _json(Name="Mug")


def test_the_field_map_maps_attribute_names_as_it_maps_element_names() -> None:
    inner = b'<price cur="EUR">12.99</price>'
    change = _xml(inner, {"price": "CurrentPrice", "cur": "Currency"})
    assert change == _json(CurrentPrice="12.99 EUR")


def test_a_data_point_given_as_attribute_and_element_is_refused_as_two_keys_are() -> None:
    body = b'<postback CatalogId="9">' + ITEM + b"</postback>"
    with pytest.raises(InvalidPostback) as caught:
        change_from_request("POST", "application/xml", "", body, AT, {})
    assert [p.field for p in caught.value.problems] == ["CatalogId"]


@pytest.mark.parametrize(
    "inner",
    [
        b'<Name xml:lang="en">Mug</Name>',  # the language of a text is no part of the value
        b'<Name xml:space="preserve">Mug</Name>',
        b'<Name>Mug</Name><Note kind="x">n</Note>',  # no data point: ignored as its element is
        b'<Name>Mug</Name><CurrentPrice unit="cents"/>',  # empty: a value not sent
        b'<Name>Mug</Name><OriginalPrice currency="EUR"></OriginalPrice>',
    ],
)
def test_attributes_that_say_nothing_of_a_value_are_accepted(inner: bytes) -> None:
    assert _xml(inner) == _json(Name="Mug")


def test_attributes_of_the_root_and_namespace_declarations_are_accepted() -> None:
    body = (
        b'<postback version="2" xmlns:x="urn:x" x:sent="now" xml:lang="en">'
        + ITEM
        + b"<Name>Mug</Name></postback>"
    )
    assert change_from_request("POST", "application/xml", "", body, AT, {}) == _json(Name="Mug")


PRICES = st.sampled_from(["12.99", "0", "1,299.00", "$5", "7.5 GBP"])
CODES = st.sampled_from(["EUR", "eur", "GBP", "", "$", "EURO"])
CURRENCIES = st.sampled_from([None, "EUR", "GBP", "usd"])


def _outcome(read: object) -> object:
    try:
        return read()  # type: ignore[operator]
    except InvalidPostback as exc:
        return [(p.field, p.reason) for p in exc.problems]


@fuzz_settings(300)
@given(PRICES, CODES, CURRENCIES)
def test_xml_with_a_currency_attribute_agrees_with_json_with_the_code_beside(
    price: str, code: str, currency: str | None
) -> None:
    # The four formats agree: what XML says with an attribute, JSON says in the price's text.
    stated = b"" if currency is None else f"<Currency>{currency}</Currency>".encode()
    inner = f"<CurrentPrice currency={quoteattr(code)}>{price}</CurrentPrice>".encode() + stated
    points = {"CurrentPrice": f"{price} {code}".strip()}
    if currency is not None:
        points["Currency"] = currency
    assert _outcome(lambda: _xml(inner)) == _outcome(lambda: _json(**points))


@pytest.mark.parametrize(
    "body",
    [
        # A default namespace: every element's name is in it, and none was read (422 missing).
        b'<postback xmlns="urn:partner">' + ITEM + b"<CurrentPrice>3</CurrentPrice></postback>",
        # A prefixed element among plain ones: the price was dropped silently (a wrong 200).
        b'<postback xmlns:p="urn:p">' + ITEM + b"<p:CurrentPrice>3</p:CurrentPrice></postback>",
        b'<p:postback xmlns:p="urn:p"><p:CatalogId>1</p:CatalogId><CatalogItemId>2</CatalogItemId>'
        b'<p:CurrentPrice p:currency="">3</p:CurrentPrice></p:postback>',
    ],
)
def test_elements_in_a_namespace_are_read_by_their_local_name(body: bytes) -> None:
    # Namespace declarations are harmless attributes of a template (the partner writes the
    # document); the element's name as written, less its prefix, is the key.
    change = change_from_request("POST", "application/xml", "", body, AT, {})
    assert change == _json(CurrentPrice="3")


XSI = b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def test_xml_schema_instance_attributes_say_nothing_of_a_value() -> None:
    """`xsi:type` and `xsi:nil` annotate how a value is typed, as serializers write them: they
    were refused (422 naming the attribute), a needless error the platform retries for ever."""
    inner = (
        b'<Name xsi:type="xs:string"' + XSI + b">Mug</Name><Sku" + XSI + b' xsi:nil="false">s</Sku>'
    )
    assert _xml(inner) == _json(Name="Mug", Sku="s")
