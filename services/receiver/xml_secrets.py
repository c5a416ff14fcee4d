"""Secrets in a refused XML body however it is written: the parser joins an element's text from
runs, references (`&#47;`), CDATA sections, and drops comments and processing instructions
inside it, so `s3cr<![CDATA[et]]>` or `s3cr<!---->et` is the secret as read while no byte run of
it is. Each text so read, and each attribute's value (references read), that holds a secret is
replaced whole, markup and all; everything else is kept byte for byte, so the kept body still
reads. Pure; one pass (deadletter.py decides when to call it).

A tolerant reader, not the parser: a refused body may be anything (a 400 for XML that is not
well-formed too), and it must still be searched; so nothing here ever fails, and an unclosed
section, comment or quoted value runs to the end of the body.
"""

from __future__ import annotations

import html
import re

from receiver.escaped_secrets import REDACTED

# What ends a text: markup. Each alternative starts with `<`, so a search costs a step a
# character, and every search starts past the last one's end: linear in the body.
_MARKUP = re.compile(r"<!\[CDATA\[|<!--|<\?|<")
_CLOSING = {"<![CDATA[": "]]>", "<!--": "-->", "<?": "?>"}
# Inside a tag: its end, or a quoted value (which may hold `>`).
_TAG_PART = re.compile(r"[>\"']")
_BLANKS = str.maketrans("\t\n\r", "   ")
# (byte order mark or how `<` starts the body, encoding), as the XML parser detects them; any
# other body is read as UTF-8 (ASCII-compatible single-byte encodings read alike for this).
_WIDE = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)


def in_xml(body: bytes, secrets: tuple[str, ...]) -> bytes:
    """`body` with each text and attribute value holding a secret, once read as the XML parser
    reads it, replaced by `[redacted]` (in the body's own encoding)."""
    encoding, errors = "utf-8", "surrogateescape"  # (any bytes read and written back alike)
    whole, stray = body, b""
    for mark, wide in _WIDE:
        if body.startswith(mark):
            encoding, errors = wide, "surrogatepass"
            # Stray bytes past the last whole code unit (a body cut, or hostile) are kept as
            # they came: the whole body undecodable, its text went unread (split secrets kept).
            cut = len(body) - len(body) % (4 if "32" in wide else 2)
            whole, stray = body[:cut], body[cut:]
            break
    try:
        text = whole.decode(encoding, errors)
    except UnicodeDecodeError:  # a UTF-32 unit past U+10FFFF: read its bytes as UTF-8's would be
        encoding, errors, stray = "utf-8", "surrogateescape", b""
        text = body.decode(encoding, errors)
    kept = _redacted(text, secrets)
    if kept is text:
        return body
    return kept.encode(encoding, errors) + stray


def _normalized(value: str) -> str:
    """An attribute's value as the parser reads its blanks: a line end (`\r\n`, `\r`, `\n`) or
    a tab is a space (XML's attribute-value normalization; references are read after)."""
    return value.replace("\r\n", " ").translate(_BLANKS)


def _holds(text: str, secrets: tuple[str, ...]) -> bool:
    return any(secret in text for secret in secrets)


def _redacted(text: str, secrets: tuple[str, ...]) -> str:
    """The one pass: text nodes (from a tag's end to the next tag) read piece by piece; a tag's
    quoted values read as they pass. `text` itself when nothing holds a secret."""
    parts: list[str] = []
    kept_to = 0  # text[:kept_to] is in `parts`, redacted
    node_at, pieces = 0, []  # the current text node: where it starts, its pieces as read
    at, end = 0, len(text)
    while at < end:
        found = _MARKUP.search(text, at)
        markup_at = end if found is None else found.start()
        if markup_at > at:
            pieces.append(html.unescape(text[at:markup_at]))  # (a reader's generous reading)
        if found is None:
            break
        opened = found.group()
        closing = _CLOSING.get(opened)
        if closing is not None:  # a section, comment or instruction: inside the text node
            close = text.find(closing, found.end())
            close = end if close < 0 else close
            if opened == "<![CDATA[":
                pieces.append(text[found.end() : close])  # (no references inside: as written)
            at = min(close + len(closing), end)
            continue
        if pieces and _holds("".join(pieces), secrets):  # a tag ends the text node
            parts += (text[kept_to:node_at], REDACTED)
            kept_to = markup_at
        at = markup_at + 1
        while at < end:  # the tag's quoted values, up to its `>`
            part = _TAG_PART.search(text, at)
            if part is None:
                at = end
                break
            at = part.end()
            if part.group() == ">":
                break
            close = text.find(part.group(), at)
            close = end if close < 0 else close
            if _holds(html.unescape(_normalized(text[at:close])), secrets):
                parts += (text[kept_to:at], REDACTED)
                kept_to = close
            at = close + 1
        node_at, pieces = at, []
    if pieces and _holds("".join(pieces), secrets):
        parts += (text[kept_to:node_at], REDACTED)
        kept_to = end
    if not parts:
        return text
    return "".join((*parts, text[kept_to:]))
