"""What an input of the receiver's intake fuzzer stands for (`request`, `seed`), and where a run
starts: one full postback in each format (so the fuzzer begins past the parsers, in validation),
a removal, lists, XML's odd corners, and the secret in the query and body; and a dictionary of
the platform's names and values' shapes. No receiver import: the target instruments those."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

SECRET = "fuzz-secret-0123456789abcdef"
METHODS = ("POST", "GET", "PUT")
CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "application/xml",
    "text/xml; charset=utf-8",
    "application/json; charset=utf-16",
    "text/plain",
    None,
)
FIELD_MAPS: tuple[dict[str, str], ...] = ({}, {"sku": "CatalogItemId", "cost": "CurrentPrice"})


def request(data: bytes) -> tuple[str, str | None, bytes, bytes, dict[str, str]]:
    """The request an input stands for: byte 0 the method, 1 the content type, 2 the field map
    (bit 0) and whether the secret goes in the query and body (bit 1), 3-4 the query's length
    (big-endian), then the query, then the body. A plain layout, so that `seed` can write one."""
    head = data[:5].ljust(5, b"\0")
    method = METHODS[head[0] % len(METHODS)]
    content_type = CONTENT_TYPES[head[1] % len(CONTENT_TYPES)]
    field_map = FIELD_MAPS[head[2] & 1]
    length = int.from_bytes(head[3:5], "big")
    query, body = data[5 : 5 + length], data[5 + length :]
    if head[2] & 2:
        body = body[: len(body) // 2] + SECRET.encode() + body[len(body) // 2 :]
        query = query + b"&Name=" + SECRET.encode() if query else query
    return method, content_type, query, body, field_map


def seed(method: str, content_type: str | None, query: bytes, body: bytes, flags: int = 0) -> bytes:
    """The input `request` reads as this request."""
    head = bytes([METHODS.index(method), CONTENT_TYPES.index(content_type), flags])
    return head + len(query).to_bytes(2, "big") + query + body


POSTBACK: dict[str, str | list[str]] = {
    "CatalogId": "42",
    "CatalogItemId": "sku-1",
    "ChangeType": "Updated",
    "DateLastUpdated": "2026-11-27T12:00:00Z",
    "Name": "Mug",
    "Description": "A mug & a <lid>",
    "Manufacturer": "Acme",
    "Category": "Kitchen",
    "Labels": ["blue", "sale"],
    "Url": "https://shop.example/mug",
    "MobileUrl": "https://m.shop.example/mug",
    "ImageUrl": "https://img.example/mug.png",
    "AdditionalImageUrls": ["https://img.example/2.png"],
    "CurrentPrice": "12.99",
    "OriginalPrice": "15.00 USD",
    "DiscountPercentage": "13",
    "Currency": "USD",
    "StockAvailability": "InStock",
    "Gtin": "00012345678905",
    "Mpn": "MUG-1",
    "Sku": "sku-1",
    "SaleEndDate": "2026-12-31",
    "ShippingCost": "4.50",
}
WORDS = [
    "Removed",
    "Updated",
    "InStock",
    "OutOfStock",
    "USD",
    "EUR",
    "1e309",
    "NaN",
    "-0",
    "9999-12-31T23:59:59Z",
    "0001-01-01",
    "+14:00",
    "<![CDATA[",
    "]]>",
    "&#47;",
    "&amp;",
    "<!DOCTYPE",
    "<!ENTITY",
    "\\u0000",
    "\\ud800",
    "%00",
    "%C3%A9",
    "%FF",
]


def _xml(points: dict[str, str | list[str]]) -> bytes:
    parts = []
    for key, value in points.items():
        inner = "".join(f"<i>{v}</i>" for v in value) if isinstance(value, list) else value
        parts.append(f"<{key}>{inner.replace('&', '&amp;').replace('<l', '&lt;l')}</{key}>")
    return f"<?xml version='1.0'?><postback>{''.join(parts)}</postback>".encode()


_ATTRIBUTES = (
    b'<p:postback xmlns:p="urn:x" CatalogItemId="sku-1"><p:CatalogId>42</p:CatalogId>'
    b'<CurrentPrice currency="EUR" xml:lang="en">12.99</CurrentPrice>'
    b'<Name a="b"><![CDATA[M]]>ug&#47;</Name><!-- c --></p:postback>'
)

# A UTF-16 body one stray byte long (its split secret was searched as UTF-8: kept), and a
# price's symbol of one currency beside an attribute's other one (a 200 in the other one).
_WIDE_STRAY = (
    b"<p><Name><![CDATA[fuzz-secret-]]><![CDATA[0123456789abcdef]]></Name></p>".decode()
).encode("utf-16-le") + b"<"
_SYMBOL = (
    "<p><CatalogId>42</CatalogId><CatalogItemId>sku-1</CatalogItemId>"
    '<CurrentPrice currency="USD">\u20ac12.99</CurrentPrice></p>'
).encode()


def seeds() -> list[bytes]:
    flat = {k: ",".join(v) if isinstance(v, list) else v for k, v in POSTBACK.items()}
    form = urlencode(flat).encode()
    removal = urlencode({"CatalogId": "42", "CatalogItemId": "sku-1", "ChangeType": "Removed"})
    return [
        seed("POST", "application/json", b"", json.dumps(POSTBACK).encode()),
        seed(
            "POST", "application/json; charset=utf-16", b"", json.dumps(POSTBACK).encode("utf-16")
        ),
        seed("POST", "application/x-www-form-urlencoded", b"", form),
        seed("POST", "application/xml", b"", _xml(POSTBACK)),
        seed(
            "POST",
            "text/xml; charset=utf-8",
            b"",
            b"<p><Name><![CDATA[a]]><![CDATA[b]]></Name></p>",
        ),
        seed("POST", "application/xml", b"", _ATTRIBUTES),
        seed("POST", "application/xml", b"", _WIDE_STRAY),
        seed("POST", "application/xml", b"", _SYMBOL),
        seed("POST", "application/xml", b"CatalogId=42", _ATTRIBUTES, 2),
        seed("GET", None, form, b""),
        seed("GET", None, removal.encode(), b""),
        seed("POST", "application/json", b"CatalogId=42", b'{"CatalogItemId": "x\\u00e9"}', 2),
        seed("POST", "application/x-www-form-urlencoded", b"", form, 3),
    ]


def write(corpus: Path, dictionary: Path, names: list[str]) -> None:
    """The seeds into `corpus`; the dictionary with the data points' `names` too."""
    corpus.mkdir(parents=True, exist_ok=True)
    for n, data in enumerate(seeds()):
        (corpus / f"seed-{n}").write_bytes(data)
    dictionary.write_text("".join(f"{json.dumps(w)}\n" for w in [*names, *WORDS]))
