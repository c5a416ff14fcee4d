"""Attack (stop 37): a configured secret kept in a dead letter because it was percent-escaped
otherwise than `quote` writes it. Redaction searched the query and the body for the secret raw
and as `quote`/`quote_plus` write it (upper-case hex); a sender whose encoder writes lower-case
hex (`%2f`, as .NET's HttpUtility.UrlEncode does) or escapes a character that needs none
(`%2D` for `-`) put the secret into the dead-letter topic in full: in the query under any name
not credential-like (`key=`), and in a form body. Both failed before.

Now each query or form pair is also read as parse_qsl reads it, and a value holding a secret is
replaced whole. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote_plus

import pytest

from receiver.deadletter import REDACTED, dead_letter

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
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
