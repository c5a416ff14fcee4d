"""Secrets written escaped in a refused body, as each format escapes text: a JSON string's
`\\/` or `\\u0073`, an XML text's `&#47;`. Each string or text run that holds a secret once read
as its format reads it is replaced whole; everything else is kept byte for byte, so the kept
body still reads. Pure; one pass over the body each (deadletter.py decides when to call them).
"""

from __future__ import annotations

import html
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


def in_xml_text(body: bytes, secrets: tuple[str, ...]) -> bytes:
    """Each XML text run (between `>` and `<`) with a reference (`&#47;`) that holds a secret
    once the references are read, replaced whole. One pass: the runs do not overlap."""
    parts: list[bytes] = []
    kept_to = 0
    at = body.find(b">")
    while at >= 0:
        end = body.find(b"<", at + 1)
        end = len(body) if end < 0 else end
        run = body[at + 1 : end]
        if len(run) >= MIN_SECRET and b"&" in run:
            text = html.unescape(run.decode("utf-8", "replace"))  # (a reader's generous reading)
            if any(secret in text for secret in secrets):
                parts += (body[kept_to : at + 1], REDACTED.encode())
                kept_to = end
        at = body.find(b">", end)
    return b"".join((*parts, body[kept_to:]))
