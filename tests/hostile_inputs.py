"""Hypothesis strategies for hostile postbacks: JSON, form, XML and GET requests built from
data points that mix the platform's names with arbitrary keys, and values that mix arbitrary
text with the inputs known to have hurt (huge numbers, runs of spaces, NUL, lone surrogates,
dates at the calendar's edges, NaNs), plus raw bytes under every content type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from receiver.postback import DATA_POINTS


def fuzz_settings(examples: int) -> settings:
    """Repeatable runs (derandomized, no example database); no per-example deadline (the tests
    bound each request's CPU time themselves)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [
    JSON,
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    FORM,
    "application/xml",
    "text/xml; charset=utf-8",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
]
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><postback><Name>&b;</Name></postback>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<postback><Name>&x;</Name></postback>"
)

KNOWN_VALUES = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ufeff",
    "\u202e",
    "sNaN",
    "NaN",
    "-Infinity",
    "1e999999",
    "-0",
    "+5",
    "100.0",
    "101",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59Z",
    "2026-02-30T00:00:00",
    "2026-11-27T10:00:00z",
    "12.99",
    "1,299.00",
    "€ 12.99",
    "12.99 EUR",
    "$-1",
    "١٢",
    "²",
    "removed",
    "DELETED",
    "in stock",
    "eur",
    "a:b",
    ":",
    "<",
    "]]>",
    "&amp;",
    "%00",
    "%ud800",
    "\r\n",
    "🙂",
]
REPEATABLE = [" ", "9", "0", "$", "1,", ",", ".", "[", "a", "\x00", "é", "+", "%", "&"]


def _repeated(unit: str, count: int) -> str:
    return unit * count


values: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(KNOWN_VALUES),
    st.text(max_size=40),
    st.builds(_repeated, st.sampled_from(REPEATABLE), st.integers(0, 20_000)),
    st.builds(
        lambda unit, count: "1" + unit * count + "1",
        st.sampled_from([" ", "\t", ",", "0"]),
        st.integers(0, 20_000),
    ),
)
NAMES = list(DATA_POINTS)
keys: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(NAMES).map(str.lower),
    st.sampled_from(NAMES).map(str.upper),
    st.text(max_size=12),
)
points: st.SearchStrategy[dict[str, str | list[str]]] = st.builds(
    lambda required, extra: {**required, **extra},
    st.fixed_dictionaries(
        {},
        optional={
            "CatalogId": st.one_of(st.just("7"), values),
            "CatalogItemId": st.one_of(st.just("chair-1"), values),
        },
    ),
    st.dictionaries(keys, st.one_of(values, st.lists(values, max_size=4)), max_size=6),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(10**20, 10**60),
    st.floats(),
    values,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(values, inner, max_size=3),
    max_leaves=6,
)


@dataclass(frozen=True)
class Request:
    kind: str  # json, form, xml, get, raw
    method: str
    content_type: str | None
    body: bytes
    query: bytes


def _form(pairs: dict[str, str | list[str]]) -> bytes:
    parts = []
    for key, value in pairs.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(
                quote(key, safe="", errors="surrogatepass")
                + "="
                + quote(item, safe="", errors="surrogatepass")
            )
    return "&".join(parts).encode()


def _xml_text(text: str) -> bytes:
    return escape(text).encode("utf-8", errors="surrogatepass")


def _xml(pairs: dict[str, str | list[str]]) -> bytes:
    body = [b"<postback>"]
    for key, value in pairs.items():
        tag = key.encode("utf-8", errors="surrogatepass")
        inner = (
            b"".join(b"<i>" + _xml_text(item) + b"</i>" for item in value)
            if isinstance(value, list)
            else _xml_text(value)
        )
        body.append(b"<" + tag + b">" + inner + b"</" + tag + b">")
    body.append(b"</postback>")
    return b"".join(body)


@st.composite
def postbacks(draw: st.DrawFn) -> list[Request]:
    """One generated set of data points, sent in each of the four formats."""
    data = draw(points)
    document: Any = data
    if draw(st.booleans()):
        document = {**data, **draw(st.dictionaries(keys, json_values, max_size=3))}
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    return [
        Request("json", "POST", JSON, text.encode("utf-8", errors="surrogatepass"), b""),
        Request("form", "POST", FORM, _form(data), b""),
        Request("xml", "POST", "application/xml", _xml(data), b""),
        Request("get", "GET", None, b"", _form(data)),
    ]


@st.composite
def raw_requests(draw: st.DrawFn) -> list[Request]:
    """Bytes that need not be well-formed at all: as a body under any content type, and as a
    query string."""
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            st.builds(lambda n: b"[" * n, st.integers(0, 200_000)),
            st.builds(lambda n: b'{"a":' * n, st.integers(0, 50_000)),
            st.builds(lambda n: b"<a>" * n, st.integers(0, 50_000)),
            st.builds(lambda n: b"a&" * n, st.integers(0, 100_000)),
            st.sampled_from([BILLION_LAUGHS, EXTERNAL_ENTITY, b"\xef\xbb\xbf{}", b"null", b"[]"]),
        )
    )
    return [
        Request("raw", "POST", draw(st.sampled_from(CONTENT_TYPES)), body, b""),
        Request("raw", "GET", None, b"", body),
    ]


@st.composite
def extra_headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """Forwarded-for lines a client could forge, repeated content lengths and the like."""
    lines = draw(
        st.lists(
            st.sampled_from([b"203.0.113.9", b"10.0.0.1, 198.51.100.2", b"junk", b"::1", b""]),
            max_size=3,
        )
    )
    return [(b"x-forwarded-for", line) for line in lines]
