"""What a dead-letter record holds: the raw request and why it was refused. Pure.

The record's format is the contract's (`catalog_contract.dead_letters`); this module decides what
of a request goes in (never the credential) and what makes two refusals "the same".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

from catalog_contract import dead_letters
from catalog_contract.dead_letters import DeadLetter
from catalog_contract.events import ProductChange
from receiver import escaped_secrets, xml_secrets
from receiver.errors import FieldProblem
from receiver.escaped_secrets import MIN_SECRET as _MIN_SECRET
from receiver.escaped_secrets import REDACTED as REDACTED  # (named here by its readers)
from receiver.formats import FORM, JSON, XML_TYPES, media_type
from receiver.postback import DATA_POINTS

_NEVER_KEPT = ("authorization", "proxy-authorization", "cookie")
# Query parameters whose value is a credential by name (a partner may put one in the URL).
_CREDENTIAL_PARAMS = ("token", "access_token", "api_key", "apikey", "password", "secret", "auth")
# The encodings other than UTF-8 a JSON or XML body is read in (json.detect_encoding, expat).
_WIDE_TEXT = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def _secret_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as it may appear: raw, percent-encoded as a query carries it, and its UTF-8
    bytes read as Latin-1, as the server decodes a header's value (a non-ASCII secret copied
    into another header was kept so). A secret shorter than 8 bytes (refused at start
    elsewhere) is not searched for: replacing it would corrupt ordinary text."""
    forms = {
        form
        for s in secrets
        if _long_enough(s)
        for form in (
            s,
            quote(s, safe=""),
            quote_plus(s, safe=""),
            s.encode("utf-8", "surrogatepass").decode("latin-1"),
        )
    }
    return sorted(forms, key=len, reverse=True)  # longest first: no half-replaced secret


def _long_enough(secret: str) -> bool:
    """In UTF-8 bytes, as settings measure a secret: counted in characters, a valid secret of
    four 4-byte characters was never searched for, and kept wherever it appeared."""
    return len(secret.encode("utf-8", "surrogatepass")) >= _MIN_SECRET


def _redact(text: str, forms: list[str]) -> str:
    for form in forms:
        text = text.replace(form, REDACTED)
    return text


def _holds_secret(escaped: str, secrets: tuple[str, ...]) -> bool:
    """Whether `escaped` holds a secret once read as parse_qsl reads it: the forms searched as
    text are only `quote`'s (upper-case hex), and a sender's encoder may write `%2f`, or
    escape a letter."""
    if not secrets or len(escaped) < _MIN_SECRET:  # (escaping never shortens a secret)
        return False
    text = unquote_plus(escaped)
    return any(secret in text for secret in secrets)


def _redact_query(
    query: str, names: tuple[str, ...], forms: list[str], secrets: tuple[str, ...] = ()
) -> str:
    """The query (or form body) with every secret, every credential-named parameter's value,
    and every value still holding a secret however escaped, replaced. Linear in the query:
    split, never a regular expression that rescans (a query with no "=" made one quadratic)."""
    query = _redact(query, forms)  # first: a value with the secret as written keeps the rest
    pairs = query.split("&")  # as parse_qsl (which reads a GET's data points) splits them
    if not _holds_secret(query, secrets):  # (read once whole: a pair at a time cost 0.1 s)
        secrets = ()
    for index, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if equals and unquote_plus(name).strip().lower() in names:
            pairs[index] = f"{name}={REDACTED}"
        elif _holds_secret(pair, secrets):
            named = equals and not _holds_secret(name, secrets)
            pairs[index] = f"{name}={REDACTED}" if named else REDACTED
    return "&".join(pairs)


def dead_letter(
    *,
    request_id: str,
    received_at: datetime,
    method: str,
    query: str,
    headers: Mapping[str, str],
    secret_header: str,
    body: bytes,
    status: int,
    reason: str,
    problems: list[FieldProblem] | None = None,
    kind: str = "",
    body_length: int | None = None,
    secrets: Iterable[str] = (),
) -> DeadLetter:
    """The record, already fitted to `dead_letters.VALUE_LIMIT` bytes whatever the request.
    No credential is kept: not the credential header (nor Authorization, Proxy-Authorization,
    Cookie), not a credential-named query parameter, and no configured secret anywhere (header,
    query, body, reason). `body_length` is the body's real size when `body` is only its start
    (a 413)."""
    forms = _secret_forms(secrets)
    searched = tuple(s for s in secrets if _long_enough(s))  # (as _secret_forms)
    dropped = (secret_header.lower(), *_NEVER_KEPT)
    kept_body = body
    for form in forms:
        kept_body = kept_body.replace(form.encode("utf-8", "surrogatepass"), REDACTED.encode())
    for encoding in _WIDE_TEXT:  # a JSON or XML body may be UTF-16 or UTF-32: its own bytes
        for secret in searched:
            kept_body = kept_body.replace(
                secret.encode(encoding, "surrogatepass"), REDACTED.encode(encoding)
            )
    body_type = media_type(headers.get("content-type"))
    if body_type == FORM:  # pairs escaped as a query's are
        # (Latin-1: one character a byte, so the pairs not redacted are kept byte for byte.)
        kept_body = _redact_query(kept_body.decode("latin-1"), (), [], searched).encode("latin-1")
    elif body_type == JSON and searched and b"\\" in kept_body:  # (no escape: found as it is)
        kept_body = escaped_secrets.in_json_strings(kept_body, searched)
    elif body_type in XML_TYPES and searched:  # (CDATA, comments, attributes: not one byte)
        kept_body = xml_secrets.in_xml(kept_body, searched)
    # The body is still whole: its length is what was received less what redaction removed.
    length = max((body_length or len(body)) - (len(body) - len(kept_body)), len(kept_body))
    letter = DeadLetter(
        request_id=request_id,
        received_at=received_at,
        method=method,
        query=_redact_query(query, (*dropped, *_CREDENTIAL_PARAMS), forms, searched),
        content_type=headers.get("content-type"),
        headers=tuple(
            (k, _redact(v, forms)) for k, v in headers.items() if k.lower() not in dropped
        ),
        body=kept_body,
        body_length=length,
        status=status,
        kind=kind,
        reason=_redact(reason, forms),
        problems=tuple((p.field, _redact(p.reason, forms)) for p in problems or ()),
    )
    return dead_letters.fit(letter)


def redacted_data_point(change: ProductChange) -> str | None:
    """The data point of `change` whose value holds REDACTED (a re-driven request read it where
    a secret was taken out when it was kept: a value the platform never sent), if any."""
    for name, (field, _) in DATA_POINTS.items():
        value = getattr(change, field)
        if any(isinstance(text, str) and REDACTED in text for text in _texts(value)):
            return name
    return None


def _texts(value: object) -> tuple[object, ...]:
    return value if isinstance(value, tuple) else (value,)  # (a list's items: Labels)


def dead_letter_record(**fields: Any) -> bytes:
    """The encoded value of `dead_letter(**fields)`."""
    return dead_letters.encode(dead_letter(**fields))


def repeat_key(letter: DeadLetter) -> bytes:
    """Two refusals are the same when what is kept of them (method, query, content type, body
    and its length) and the verdict (status, reason) are: a SHA-256 over length-prefixed parts,
    32 bytes whatever the body. Headers and the request id and time may differ."""
    digest = hashlib.sha256()
    parts = (
        letter.method.encode(),
        letter.query.encode(),
        (letter.content_type or "").encode(),
        letter.body,
        str(letter.body_length).encode(),
        str(letter.status).encode(),
        letter.reason.encode(),
    )
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def tally_record(
    *, request_id: str, received_at: datetime, repeat_of: str, status: int, repeats: int,
    last_seen_at: datetime,
) -> bytes:  # fmt: skip
    """A small record saying how many identical repeats of `repeat_of` were counted, not written."""
    return dead_letters.encode(
        DeadLetter(
            request_id=request_id,
            received_at=received_at,
            method="",
            query="",
            content_type=None,
            headers=(),
            body=b"",
            body_length=0,
            status=status,
            kind=dead_letters.REPEATS,
            reason=f"{repeats} identical repeats of {repeat_of}, not written again",
            repeat_of=repeat_of,
            repeats=repeats,
            last_seen_at=last_seen_at,
        )
    )
