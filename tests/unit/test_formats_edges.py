"""Edge cases of reading each body format into data points. No I/O."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from receiver import formats
from receiver.errors import UnreadableBody


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE postback><postback><CatalogId>1</CatalogId></postback>",
        b'<?xml version="1.0"?>\n<!DOCTYPE postback SYSTEM "postback.dtd">'
        b"<postback><CatalogId>1</CatalogId></postback>",
        b'<!DOCTYPE postback PUBLIC "-//X//DTD P//EN" "http://example.com/p.dtd"><postback/>',
    ],
)
def test_any_doctype_is_refused_even_without_entities(body: bytes) -> None:
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body("application/xml", body)
    assert caught.value.status == 400
    assert "DTDs and entities are not allowed" in caught.value.reason


def test_xml_empty_and_blank_elements_are_empty_text() -> None:
    points = formats.parse_body(
        "text/xml",
        b"<postback><Name/><Sku>  </Sku><Labels><Label/><Label> a </Label></Labels></postback>",
    )
    assert points == {"Name": "", "Sku": "  ", "Labels": ["", "a"]}


def test_xml_repeated_elements_become_a_list_in_order() -> None:
    points = formats.parse_body(
        "application/xml",
        b"<p><Labels>a</Labels><Labels>b</Labels><Labels>c</Labels><Name>x</Name></p>",
    )
    assert points == {"Labels": ["a", "b", "c"], "Name": "x"}


def test_form_keeps_blank_values_and_repeats_in_order() -> None:
    points = formats.parse_body(formats.FORM, b"Name=&Labels=a&Labels=b&Labels=c&Sku=%20x")
    assert points == {"Name": "", "Labels": ["a", "b", "c"], "Sku": " x"}
    words = formats.parse_body(formats.FORM, b"Labels=kitchen&Labels=sale&Labels=")
    assert words == {"Labels": ["kitchen", "sale", ""]}


def test_form_body_must_be_utf8() -> None:
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body(formats.FORM, b"Name=caf\xe9")
    assert caught.value.status == 400
    assert "UTF-8" in caught.value.reason


def test_json_scalars_become_text_as_the_platform_would_send_them() -> None:
    points = formats.parse_body(
        "application/json",
        b'{"Name": null, "InStock": true, "Sale": false, "DiscountPercentage": 15,'
        b' "CurrentPrice": 12.5, "Labels": ["a", 2]}',
    )
    assert points == {
        "Name": "",
        "InStock": "true",
        "Sale": "false",
        "DiscountPercentage": "15",
        "CurrentPrice": "12.5",
        "Labels": ["a", "2"],
    }


@pytest.mark.parametrize(
    "body", [b'{"Labels": [["a"]]}', b'{"Labels": [{"a": 1}]}', b'{"Labels": [null]}']
)
def test_json_lists_of_anything_but_scalars_are_refused_by_field(body: bytes) -> None:
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body("application/json", body)
    assert caught.value.status == 422
    assert "'Labels'" in caught.value.reason


@pytest.mark.parametrize("body", [b'"text"', b"42", b"null", b"[]"])
def test_a_json_body_must_be_an_object(body: bytes) -> None:
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body("application/json", body)
    assert caught.value.status == 400
    assert "JSON body must be an object" in caught.value.reason


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("APPLICATION/JSON", b'{"Name": "x"}'),
        ("application/json;charset=utf-8;boundary=x", b'{"Name": "x"}'),
        (" Application/X-WWW-Form-Urlencoded ; charset=UTF-8", b"Name=x"),
        ("text/xml; charset=utf-8", b"<p><Name>x</Name></p>"),
    ],
)
def test_content_types_are_matched_without_case_or_parameters(
    content_type: str, body: bytes
) -> None:
    assert formats.parse_body(content_type, body) == {"Name": "x"}


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        (None, "'(none)'"),
        ("", "'(none)'"),
        ("text/plain", "'text/plain'"),
        ("application/json-patch+json", "'application/json-patch+json'"),
    ],
)
def test_an_unsupported_type_is_415_naming_it_and_every_accepted_type(
    content_type: str | None, named: str
) -> None:
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body(content_type, b"x")
    assert caught.value.status == 415
    assert named in caught.value.reason
    assert caught.value.reason.endswith(
        "accepted: application/json, application/x-www-form-urlencoded, application/xml, text/xml"
    )


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.tuples(_JSONISH, st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-32"])).map(
            lambda pair: json.dumps(pair[0], ensure_ascii=False).encode(pair[1], "surrogatepass")
        ),
    )
)
# A lone surrogate in UTF-16 text: json.loads reads it (surrogatepass), and the field's own
# check then names it (422), rather than the whole body failing to decode.
@example('{"Name":"\ud800"}'.encode("utf-16-le", "surrogatepass"))
def test_from_json_reads_exactly_what_json_loads_reads(body: bytes) -> None:
    """from_json keeps one decoder instead of json.loads(body, parse_int=str, ...): the same
    encodings detected (UTF-8/16/32), the same documents read, the same errors named."""
    refusal: str | None = None
    try:
        expected = json.loads(body, parse_int=str, parse_float=str, parse_constant=str)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        refusal = f"body is not valid JSON: {exc}"
    if refusal is not None:
        with pytest.raises(UnreadableBody) as caught:
            formats.from_json(body)
        assert caught.value.reason == refusal
        return
    if not isinstance(expected, dict):
        with pytest.raises(UnreadableBody):
            formats.from_json(body)
    elif all(isinstance(value, str) for value in expected.values()):
        assert formats.from_json(body) == expected


XML_ENCODINGS_EXPAT_CANNOT_READ = [
    "UTF-7",  # multi-byte: "multi-byte encodings are not supported" (a ValueError)
    "shift_jis",
    "big5",
    "bogus",  # no such codec: a LookupError
    "zlib",  # a codec, but not a text encoding: a LookupError
    "idna",  # a UnicodeError while expat builds its byte table
    "punycode",  # a UnicodeDecodeError
]


@pytest.mark.parametrize("encoding", XML_ENCODINGS_EXPAT_CANNOT_READ)
def test_an_xml_declaration_naming_an_unreadable_encoding_is_400_not_a_crash(
    encoding: str,
) -> None:
    """Found by the stop-24 attack: expat hands any declared encoding to Python's codecs, whose
    ValueError/LookupError escaped the parser's ParseError and reached the server as a 500."""
    body = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        "<postback><CatalogId>42</CatalogId><CatalogItemId>\u00e9</CatalogItemId></postback>"
    ).encode("latin-1")
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body("application/xml", body)
    assert caught.value.status == 400
    assert caught.value.reason.startswith("XML declares an encoding that cannot be read: ")


@settings(max_examples=200, deadline=None)
@given(encoding=st.text(min_size=1, max_size=20).filter(lambda s: '"' not in s))
def test_any_declared_xml_encoding_is_read_or_refused_as_unreadable(encoding: str) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?><postback><CatalogId>42</CatalogId>'
    status = 200
    try:
        formats.parse_body("application/xml", (body + "</postback>").encode("utf-8", "replace"))
    except UnreadableBody as refused:
        status = refused.status
    assert status in (200, 400)


def test_a_single_byte_declared_encoding_is_still_read() -> None:
    body = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        "<postback><CatalogItemId>caf\u00e9</CatalogItemId></postback>"
    ).encode("latin-1")
    assert formats.parse_body("application/xml", body) == {"CatalogItemId": "caf\u00e9"}


def test_a_repeated_json_key_keeps_every_value_as_forms_and_xml_do() -> None:
    """Found by the stop-24 attack: json kept the last value silently, so
    `{"CatalogId":"42","CatalogId":"43"}` was written as catalog 43, while anything reading the
    first (a proxy, a person reading the dead letter) sees 42. A list is then refused by name
    for a single-valued field, and read as a list for a list field."""
    body = b'{"CatalogId":"42","Labels":"a","CatalogId":"43","Labels":"b","Name":"x"}'
    assert formats.parse_body(formats.JSON, body) == {
        "CatalogId": ["42", "43"],
        "Labels": ["a", "b"],
        "Name": "x",
    }


def test_repeats_of_one_json_key_count_as_fields() -> None:
    """A thousand repeats of one key are a thousand fields, as in a form, not one."""
    within = b"{" + b'"Labels":"a",' * 999 + b'"Name":"x"}'
    assert formats.parse_body(formats.JSON, within)["Labels"] == ["a"] * 999
    with pytest.raises(UnreadableBody) as caught:
        formats.parse_body(formats.JSON, b"{" + b'"Labels":"a",' * 1_000 + b'"Name":"x"}')
    assert caught.value.status == 400
    assert caught.value.reason == "too many fields: 1001 (at most 1000)"
