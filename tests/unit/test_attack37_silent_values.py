"""Attack (stop 37): postbacks the receiver answered 200 with a value that was not the one sent,
or with one of two values sent for the same data point, chosen silently. A wrong 200 loses data;
each of these is now refused by name (400 or 422) and kept as a dead letter like any refusal.

What failed before, each through `change_from_request` (the receiver's and the re-drive's path):
- a form body or GET query whose percent-escape is not UTF-8 (`CatalogId=caf%E9`, Latin-1 `é`)
  was read with U+FFFD in its place (`caf\ufffd`) and published;
- two keys naming one data point, by case (`CatalogId` and `catalogid`) or by the field map
  (`cat` -> CatalogId beside `CatalogId`), kept the last one's value: catalog 43, not 42;
- an XML list element given twice (`<Labels>` ... `<Labels>`) kept only the second's items,
  and text beside a list's elements (`<Labels>a<L>b</L></Labels>`) was dropped.
No I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import ProductChange
from receiver import formats
from receiver.errors import InvalidPostback, UnreadableBody
from receiver.intake import change_from_request, query_text
from tests.hostile_inputs import fuzz_settings

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"


def _post(content_type: str, body: bytes, field_map: dict[str, str] | None = None) -> ProductChange:
    return change_from_request("POST", content_type, "", body, AT, field_map or {})


@pytest.mark.parametrize(
    "escaped", ["caf%E9", "%FF", "%C3", "%ED%A0%80", "a%C3%28"]
)  # Latin-1, a lone byte, a cut sequence, an encoded surrogate, an invalid continuation
def test_a_percent_escape_that_is_not_utf8_is_refused_not_replaced(escaped: str) -> None:
    pairs = f"CatalogId={escaped}&CatalogItemId=1"
    with pytest.raises(UnreadableBody) as in_form:
        _post(FORM, pairs.encode())
    assert in_form.value.status == 400
    assert in_form.value.reason == "field 'CatalogId': percent-escapes are not UTF-8 text"
    with pytest.raises(UnreadableBody) as in_query:
        change_from_request("GET", None, query_text(pairs.encode()), b"", AT, {})
    assert in_query.value.reason == in_form.value.reason


def test_utf8_percent_escapes_still_read() -> None:
    change = _post(FORM, b"CatalogId=caf%C3%A9&CatalogItemId=%E2%82%AC1&Labels=%F0%9F%98%80")
    assert (change.catalog_id, change.catalog_item_id, change.labels) == ("café", "€1", ("😀",))


@given(
    value=st.binary(min_size=1, max_size=12),
    at=st.sampled_from(["key", "value"]),
)
@fuzz_settings(500)
def test_a_form_pair_is_read_as_its_bytes_or_refused(value: bytes, at: str) -> None:
    """Every byte percent-escaped: the pair is read back exactly, or refused when the bytes are
    not UTF-8; never read as other text."""
    escaped = "".join(f"%{byte:02X}" for byte in value)
    body = f"{escaped}=x" if at == "key" else f"Name={escaped}"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(UnreadableBody):
            formats.from_form(body.encode())
        return
    assert formats.from_form(body.encode()) == ({text: "x"} if at == "key" else {"Name": text})


@pytest.mark.parametrize(
    ("body", "field_map"),
    [
        (b'{"CatalogId":"42","catalogid":"43","CatalogItemId":"1"}', {}),
        (b'{"CATALOGID":"42","CatalogId":"43","CatalogItemId":"1"}', {}),
        (b'{"CatalogId":"42","cat":"43","CatalogItemId":"1"}', {"cat": "CatalogId"}),
        (
            b'{"cat":"42","catalog":"43","CatalogItemId":"1"}',
            {"cat": "CatalogId", "catalog": "CatalogId"},
        ),
    ],
)
def test_two_keys_for_one_data_point_are_refused_by_name(
    body: bytes, field_map: dict[str, str]
) -> None:
    with pytest.raises(InvalidPostback) as caught:
        _post("application/json", body, field_map)
    assert [(p.field, p.reason) for p in caught.value.problems] == [
        ("CatalogId", "expected a single value, got a list")
    ]


def test_two_keys_for_one_list_keep_every_item_in_order() -> None:
    change = _post(FORM, b"CatalogId=42&CatalogItemId=1&Labels=a&labels=b&LABELS=c")
    assert change.labels == ("a", "b", "c")


def test_an_empty_alias_beside_the_data_point_is_not_sent() -> None:
    """Empty means not sent, from any key: it does not make the data point a list."""
    change = _post("application/json", b'{"CatalogId":"42","catalogid":"","CatalogItemId":"1"}')
    assert change.catalog_id == "42"


def test_an_xml_list_given_twice_keeps_both_lists_items() -> None:
    points = formats.from_xml(
        b"<p><Labels><L>a</L></Labels><Labels>x</Labels><Labels><L>b</L><L>c</L></Labels></p>"
    )
    assert points == {"Labels": ["a", "x", "b", "c"]}


@pytest.mark.parametrize(
    "element",
    [
        b"<Labels>a<L>b</L></Labels>",
        b"<Labels><L>b</L>c</Labels>",
        b"<Labels><L>a<i>b</i></L></Labels>",
    ],
)
def test_xml_text_beside_or_under_a_lists_items_is_refused_not_dropped(element: bytes) -> None:
    with pytest.raises(UnreadableBody) as caught:
        formats.from_xml(b"<p><CatalogId>1</CatalogId>" + element + b"</p>")
    assert caught.value.status == 400
    assert "'Labels'" in caught.value.reason


@pytest.mark.parametrize("sent", ["\u0131NR", "\ufb00a", "eu\u0157"])
def test_a_currency_not_in_ascii_letters_is_refused_not_upper_cased_into_a_code(sent: str) -> None:
    # str.upper() maps the Turkish dotless i (U+0131) to `I` and the ligature U+FB00 to `FF`:
    # `\u0131NR` was published as INR and `\ufb00a` as FFA, codes the sender never wrote.
    with pytest.raises(InvalidPostback) as caught:
        _post(
            "application/json",
            f'{{"CatalogId":"1","CatalogItemId":"2","Currency":"{sent}"}}'.encode(),
        )
    assert [(p.field, p.reason) for p in caught.value.problems] == [
        ("Currency", f"not an ISO 4217 currency code: {sent!r}")
    ]


def test_a_key_is_matched_without_case_only_in_ascii() -> None:
    # `S\u212au` (with the Kelvin sign, which lower-cases to `k`) was read as Sku.
    change = _post(
        "application/json", '{"CatalogId":"1","CatalogItemId":"2","S\u212au":"x"}'.encode()
    )
    assert change.sku is None
