"""Secrets written escaped in a refused JSON body: a string's `\\/` or `\\u0073`. Each string
that holds a secret once read as JSON reads it is replaced whole; everything else is kept byte
for byte, so the kept body still reads. Pure; one pass over the body (deadletter.py decides
when to call it). An XML body's text and attributes: xml_secrets.py.
"""

from __future__ import annotations

import json

REDACTED = "[redacted]"
MIN_SECRET = 8
"""Bytes: a shorter secret (refused at start elsewhere) is not searched for, as it would match
ordinary text; no escaped form of a secret is shorter than the secret."""

_REDACTED_STRING = json.dumps(REDACTED).encode()
_BACKSLASH = ord("\\")


def _string_end(body: bytes, at: int) -> int:
    """Where the JSON string opened at `at` ends (past its closing quote), or -1. One pass: a
    regular expression for a string, tried from every quote, was quadratic in `"\\"\\"\\"...`
    (200 KB took minutes); here each backslash run is counted once, before its quote."""
    end = body.find(b'"', at + 1)
    while end >= 0:
        back = end - 1
        while back > at and body[back] == _BACKSLASH:
            back -= 1
        if (end - 1 - back) % 2 == 0:  # an even run of backslashes: the quote is not escaped
            return end + 1
        end = body.find(b'"', end + 1)
    return -1


def in_json_strings(body: bytes, secrets: tuple[str, ...]) -> bytes:
    """Each JSON string with an escape (`\\/`, `\\u0073`) that holds a secret once read as JSON
    reads it, replaced whole; everything else kept byte for byte."""
    parts: list[bytes] = []
    kept_to = 0
    at = body.find(b'"')
    while at >= 0 and (end := _string_end(body, at)) >= 0:
        token = body[at:end]
        if len(token) >= MIN_SECRET + 2 and b"\\" in token:  # (escapes never shorten)
            try:
                text = json.loads(token.decode("utf-8", "surrogatepass"))
            except ValueError:  # (UnicodeDecodeError too) not a string JSON reads: kept
                text = ""
            if any(secret in text for secret in secrets):
                parts += (body[kept_to:at], _REDACTED_STRING)
                kept_to = end
        at = body.find(b'"', end)
    return b"".join((*parts, body[kept_to:]))
