"""Attack (stop 37): a configured secret kept in a dead letter because it was percent-escaped
otherwise than `quote` writes it. Redaction searched the query and the body for the secret raw
and as `quote`/`quote_plus` write it (upper-case hex); a sender whose encoder writes lower-case
hex (`%2f`, as .NET's HttpUtility.UrlEncode does) or escapes a character that needs none
(`%2D` for `-`) put the secret into the dead-letter topic in full: in the query under any name
not credential-like (`key=`), and in a form body. Both failed before.

The same in a JSON body whose string escapes `/` as `\\/` (PHP's json_encode does by default) or
writes a letter as `\\uXXXX`. Now each query or form pair is also read as parse_qsl reads it, and
each JSON string with an escape as JSON reads it; one holding a secret is replaced whole. No I/O."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from receiver.deadletter import REDACTED, dead_letter
from receiver.settings import ReceiverSettings
from tests.hostile_inputs import fuzz_settings

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"
SECRET = "s3cr3t-Token/with+plus=="
ESCAPED = [
    "s3cr3t-Token%2fwith%2bplus%3d%3d",  # lower-case hex
    "%73%33cr3t%2DToken%2Fwith%2Bplus%3D%3D",  # characters escaped that need no escape
    "Bearer+s3cr3t-Token%2fwith%2bplus%3d%3d",  # the secret inside a longer value
]


def _letter(query: str, body: bytes, content_type: str) -> tuple[str, bytes]:
    letter = dead_letter(
        request_id="r1", received_at=AT, method="POST", query=query,
        headers={"content-type": content_type}, secret_header="X-Postback-Token",
        secrets=[SECRET], body=body, status=422, reason="r",
    )  # fmt: skip
    return letter.query, letter.body


@pytest.mark.parametrize("escaped", ESCAPED)
def test_an_escaped_secret_in_the_query_is_not_kept(escaped: str) -> None:
    assert SECRET in unquote_plus(escaped)  # (what a reader of the record would decode)
    query, _ = _letter(f"CatalogId=7&key={escaped}&a=b", b"", "application/json")
    assert query == f"CatalogId=7&key={REDACTED}&a=b"


@pytest.mark.parametrize("escaped", ESCAPED)
@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; charset=utf-8"],
)
def test_an_escaped_secret_in_a_form_body_is_not_kept(escaped: str, content_type: str) -> None:
    body = f"CatalogId=7&note={escaped}&Name=caf%C3%A9".encode()
    _, kept = _letter("", body, content_type)
    assert kept == f"CatalogId=7&note={REDACTED}&Name=caf%C3%A9".encode()


def test_a_form_body_without_a_secret_is_kept_byte_for_byte() -> None:
    body = b"CatalogId=7&Name=caf%e9&x=\xff\xfe&&=&y"
    _, kept = _letter("", body, "application/x-www-form-urlencoded")
    assert kept == body


# A JSON body escapes the same secret in its own ways: PHP's json_encode writes `/` as `\/` by
# default, and any encoder may write a character as `\uXXXX`. Both were kept in full before.
@pytest.mark.parametrize(
    "escaped",
    [
        r"s3cr3t-Token\/with+plus==",
        r"\u0073\u0033cr3t-Token/with\u002bplus==",
        r"Bearer s3cr3t-Token\/with+plus==",
    ],
)
def test_an_escaped_secret_in_a_json_body_is_not_kept(escaped: str) -> None:
    body = f'{{"CatalogId": "7", "note": "{escaped}", "Name": "caf\\u00e9 \\"x\\""}}'.encode()
    assert SECRET in json.loads(body)["note"]
    _, kept = _letter("", body, "application/json; charset=utf-8")
    assert (
        kept == f'{{"CatalogId": "7", "note": "{REDACTED}", "Name": "caf\\u00e9 \\"x\\""}}'.encode()
    )


def test_a_json_body_without_a_secret_is_kept_byte_for_byte() -> None:
    body = (
        b'{"CatalogId": "7", "a": "\\/\\u00e9\\"", "b": "\\ud800", "c": "\\x", "d": "unterminated'
    )
    _, kept = _letter("", body, "application/json")
    assert kept == body


_HOLDING_SECRET = st.builds(f"{{}}{SECRET}{{}}".format, st.text(max_size=4), st.text(max_size=4))


@given(
    texts=st.lists(st.text(max_size=12) | _HOLDING_SECRET, max_size=6),
    ascii_only=st.booleans(),
    slashes=st.booleans(),
)
@fuzz_settings(400)
def test_json_strings_holding_a_secret_are_replaced_and_no_other(
    texts: list[str], ascii_only: bool, slashes: bool
) -> None:
    """However a JSON encoder escapes the strings, the kept body reads as the same document
    but for the strings that held the secret, none of which holds it any more."""
    text = json.dumps(texts, ensure_ascii=ascii_only)
    body = (text.replace("/", "\\/") if slashes else text).encode("utf-8", "surrogatepass")
    _, kept = _letter("", body, "application/json")
    read = json.loads(kept.decode("utf-8", "surrogatepass"))
    assert len(read) == len(texts)
    for sent, stored in zip(texts, read, strict=True):
        assert SECRET not in stored
        assert stored == sent or (SECRET in sent and REDACTED in stored)


@pytest.mark.parametrize(
    "body",
    [
        b'"\\' * 100_000,
        b'"' + b"\\" * 200_000,
        b'"aaaaaaaaa\\\\"' * 20_000,
        b'"\\/aaaaaaa",' * 20_000,
    ],
)
def test_redacting_a_json_body_costs_linear_time(body: bytes) -> None:
    # A regular expression for a JSON string, tried from every quote, rescanned to the end each
    # time: 200 KB of `"\` took 216 s of CPU. One pass: far below a second, however loaded.
    started = time.process_time()
    _, kept = _letter("", body, "application/json")
    assert time.process_time() - started < 1.0
    assert kept == body


def test_a_secret_of_few_multi_byte_characters_is_not_kept() -> None:
    # Settings take a secret of 16 UTF-8 bytes or more; redaction skipped any of fewer than 8
    # *characters*, so four 4-byte characters, a valid secret, were kept wherever they appeared;
    # and a header's value is its bytes read as Latin-1, where the secret's text never matched.
    secret = "🔑🔒🔓🗝"
    assert len(secret.encode()) == 16
    ReceiverSettings(secrets=[SecretStr(secret)])  # (valid: the receiver starts with it)
    letter = dead_letter(
        request_id="r1", received_at=AT, method="GET", query=f"k={quote(secret)}",
        headers={"x-copy": secret, "x-raw": secret.encode().decode("latin-1")},
        secret_header="X-Postback-Token", secrets=[secret],
        body=f'{{"note": "{secret}"}}'.encode(), status=422, reason=f"bad {secret}",
    )  # fmt: skip
    assert secret not in repr(letter)
    assert secret.encode() not in letter.body
    assert letter.headers == (("x-copy", REDACTED), ("x-raw", REDACTED))  # (as a server reads)
    assert quote(secret) not in letter.query


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32-le"])
def test_a_secret_in_a_utf16_or_utf32_body_is_not_kept(encoding: str) -> None:
    # JSON and XML bodies may come in UTF-16 or UTF-32 (the receiver reads both), where the
    # secret's bytes are not its UTF-8 ones: it was kept in full. Now redacted in the body's
    # own encoding, so the kept body still reads (and can be re-driven).
    body = f'{{"CatalogId": "7", "note": "x {SECRET} y"}}'.encode(encoding)
    _, kept = _letter("", body, "application/json")
    assert json.loads(kept) == {"CatalogId": "7", "note": f"x {REDACTED} y"}


@pytest.mark.parametrize(
    "escaped",
    [
        "s3cr3t-Token&#47;with+plus==",
        "&#x73;3cr3t-Token/with&#43;plus&#61;=",
        "Bearer s3cr3t-Token&#47;with+plus==",
    ],
)
def test_a_secret_written_with_xml_character_references_is_not_kept(escaped: str) -> None:
    # An XML body's text may write any character as a reference (`&#47;` for `/`): the secret
    # so written was kept in full. Now a text run with a reference holding it is replaced.
    body = "<p><CatalogId>7</CatalogId><Note>{}</Note><Name>a &amp; b &gt;</Name></p>"
    _, kept = _letter("", body.format(escaped).encode(), "text/xml; charset=utf-8")
    assert kept == body.format(REDACTED).encode()


@pytest.mark.parametrize("body", [b">" * 200_000, b"&>" * 100_000, b">&#47;aaaaaa" * 20_000])
def test_redacting_an_xml_body_costs_linear_time(body: bytes) -> None:
    started = time.process_time()
    _, kept = _letter("", body, "application/xml")
    assert time.process_time() - started < 1.0
    assert kept == body


@pytest.mark.parametrize("content_type", ["application/json", "application/xml", FORM, None])
def test_the_refusals_kind_is_kept_whatever_the_body(content_type: str | None) -> None:
    # (A first version of the escaped-secret redaction named the body's media type `kind`, and
    # so kept it as the refusal's kind: the integration test of dead letters caught it.)
    letter = dead_letter(
        request_id="r1", received_at=AT, method="POST", query="",
        headers={} if content_type is None else {"content-type": content_type},
        secret_header="X-Postback-Token", secrets=[SECRET], body=b"x", status=422,
        reason="r", kind="invalid-postback",
    )  # fmt: skip
    assert letter.kind == "invalid-postback"


def test_a_secret_as_written_inside_a_longer_value_is_replaced_alone() -> None:
    query, _ = _letter(f"Name=x%20{SECRET}&k=x%20{ESCAPED[0]}", b"", "application/json")
    assert query == f"Name=x%20{REDACTED}&k={REDACTED}"
