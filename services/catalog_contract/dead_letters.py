"""The dead-letter topic's records: a refused postback as received, and why. Pure.

Values are Avro single-object encoded like product events (schema family `dead_letter`), so the
body is kept as raw bytes: a body of control characters costs its own size, not six times it as
escaped JSON text. `fit` shortens a record so its value always fits the topic's maximum message
size; records written before the Avro schema (JSON text) are still read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from catalog_contract import codec, schemas
from catalog_contract.errors import DecodeError

VALUE_LIMIT = 1_000_000
"""Largest value written, in bytes: under the topic's `max.message.bytes`
(`topics.MAX_MESSAGE_BYTES`, 1,048,588) and the producer's `max.request.size` (1,048,576) with
room for the record batch's own overhead and the < 1% a compressor adds to incompressible bytes."""

REPEATS = "repeats"
"""The kind of a repeat tally record."""

# Caps on everything but the body and the query, so that they get the rest of the budget.
_TEXT_CAP = 4096
_PROBLEM_CAP = 1024
_MAX_PROBLEMS = 100
_MAX_HEADERS = 100
_MARGIN = 64  # Avro length prefixes of the two fields cut last
# How `fit` ends a query it cut. A request cannot forge it: it holds spaces, which end the
# request target of an HTTP request line (a query's spaces arrive as "+" or "%20").
_QUERY_CUT = re.compile(r"… \[truncated: (\d+) bytes\]\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    request_id: str
    received_at: datetime
    method: str
    query: str
    content_type: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    body_length: int
    status: int
    kind: str
    reason: str
    problems: tuple[tuple[str, str], ...] = ()
    repeat_of: str | None = None
    repeats: int = 0
    last_seen_at: datetime | None = None

    @property
    def query_cut(self) -> tuple[int, int] | None:
        """(bytes kept, bytes received) when `fit` cut the query, else None."""
        found = _QUERY_CUT.search(self.query)
        if found is None:
            return None
        return len(self.query[: found.start()].encode("utf-8")), int(found.group(1))

    @property
    def truncated(self) -> bool:
        """The request was not kept whole (body or query cut): it can never be re-driven."""
        return len(self.body) < self.body_length or self.query_cut is not None

    def to_record(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in _AS_STORED},
            "headers": [{"name": n, "value": v} for n, v in self.headers],
            "problems": [{"field": f, "reason": r} for f, r in self.problems],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DeadLetter:
        return cls(
            **{name: record[name] for name in _AS_STORED},
            headers=tuple((h["name"], h["value"]) for h in record["headers"]),
            problems=tuple((p["field"], p["reason"]) for p in record["problems"]),
        )


# The fields an Avro record holds as they are; the two lists of pairs are records of their own.
_AS_STORED = tuple(f.name for f in fields(DeadLetter) if f.name not in ("headers", "problems"))


def encode(letter: DeadLetter) -> bytes:
    return codec.encode_record(letter.to_record(), schemas.current(schemas.DEAD_LETTER))


def decode(value: bytes) -> DeadLetter:
    """Raises DecodeError for a value that is no dead letter (of any version, or legacy JSON)."""
    if value[:1] == b"{":
        return _from_legacy_json(value)
    return DeadLetter.from_record(codec.decode_record(value, schemas.current(schemas.DEAD_LETTER)))


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} is {type(value).__name__}, not text")
    return value


def _from_legacy_json(value: bytes) -> DeadLetter:
    """Records the receiver wrote as JSON text before the Avro schema existed. Every field is
    checked, so a record of another shape is unreadable here rather than a crash later."""
    try:
        old = json.loads(value)
        if old.get("body_base64") is not None:
            body = base64.b64decode(_text(old["body_base64"], "body_base64"), validate=True)
        else:
            body = _text(old.get("body") or "", "body").encode("utf-8", "surrogatepass")
        received_at = datetime.fromisoformat(_text(old["received_at"], "received_at"))
        if received_at.utcoffset() is None:
            raise ValueError("received_at has no time zone")
        status = old["status"]
        if type(status) is not int:
            raise TypeError("status is not an integer")
        content_type = old.get("content_type")
        headers = old.get("headers") or {}
        return DeadLetter(
            request_id=_text(old["request_id"], "request_id"),
            received_at=received_at,
            method=_text(old["method"], "method"),
            query=_text(old.get("query") or "", "query"),
            content_type=None if content_type is None else _text(content_type, "content_type"),
            headers=tuple((_text(k, "header"), _text(v, "header")) for k, v in headers.items()),
            body=body,
            body_length=len(body),
            status=status,
            kind="legacy",
            reason=_text(old["reason"], "reason"),
            problems=tuple(
                (_text(e["field"], "field"), _text(e["reason"], "reason"))
                for e in old.get("errors") or []
            ),
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise DecodeError(f"not a dead-letter record ({type(exc).__name__}: {exc})") from exc


def clean(text: str) -> str:
    """Text Avro can write (UTF-8): lone surrogates, e.g. from an escaped JSON "\\ud800" echoed
    in a reason, become their escape sequence."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shorten(text: str, limit: int) -> str:
    """`text` up to `limit` characters, else its start and a marker with its original length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated: {len(text)} characters]"


def _utf8_prefix(text: str, size: int) -> str:
    return text.encode("utf-8")[: max(size, 0)].decode("utf-8", "ignore")


def fit(letter: DeadLetter, limit: int = VALUE_LIMIT) -> DeadLetter:
    """The record with every text made writable and capped, and the body and query cut so the
    encoded value is at most `limit` bytes. `body_length` keeps the original size."""
    headers = [(clean(n)[:256], shorten(clean(v), _TEXT_CAP)) for n, v in letter.headers]
    problems = [(clean(f)[:256], shorten(clean(r), _PROBLEM_CAP)) for f, r in letter.problems]
    if len(problems) > _MAX_PROBLEMS:
        problems = [*problems[:_MAX_PROBLEMS], ("…", f"{len(problems) - _MAX_PROBLEMS} more")]
    small = replace(
        letter,
        request_id=clean(letter.request_id)[:64],
        method=clean(letter.method)[:16],
        content_type=None
        if letter.content_type is None
        else shorten(clean(letter.content_type), 256),
        headers=tuple(headers[:_MAX_HEADERS]),
        reason=shorten(clean(letter.reason), _TEXT_CAP),
        problems=tuple(problems),
        query="",
        body=b"",
    )
    room = limit - len(encode(small)) - _MARGIN
    query = clean(letter.query)
    query_size = len(query.encode("utf-8"))
    if query_size + len(letter.body) > room:
        # Whichever is larger gives way; each keeps at least half the room if it needs it.
        keep_query = min(query_size, max(room - len(letter.body), room // 2))
        if keep_query < query_size:
            marker = f"… [truncated: {query_size} bytes]"  # read back by `query_cut`
            query = _utf8_prefix(query, keep_query - len(marker.encode())) + marker
        body = letter.body[: max(room - len(query.encode("utf-8")), 0)]
    else:
        body = letter.body
    return replace(small, query=query, body=body, body_length=max(letter.body_length, len(body)))
