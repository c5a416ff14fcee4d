"""What a dead-letter record holds: the raw request and why it was refused. Pure.

The record's format is the contract's (`catalog_contract.dead_letters`); this module decides what
of a request goes in (never the credential) and what makes two refusals "the same".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from catalog_contract import dead_letters
from catalog_contract.dead_letters import DeadLetter
from receiver.errors import FieldProblem

_NEVER_KEPT = ("authorization", "cookie")


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
) -> DeadLetter:
    """The record, already fitted to `dead_letters.VALUE_LIMIT` bytes whatever the request. The
    credential header (and Authorization, Cookie) is never kept. `body_length` is the body's real
    size when `body` is only its start (a 413)."""
    letter = DeadLetter(
        request_id=request_id,
        received_at=received_at,
        method=method,
        query=query,
        content_type=headers.get("content-type"),
        headers=tuple(
            (k, v)
            for k, v in headers.items()
            if k.lower() not in (secret_header.lower(), *_NEVER_KEPT)
        ),
        body=body,
        body_length=max(body_length or 0, len(body)),
        status=status,
        kind=kind,
        reason=reason,
        problems=tuple((p.field, p.reason) for p in problems or ()),
    )
    return dead_letters.fit(letter)


def dead_letter_record(**fields: Any) -> bytes:
    """The encoded value of `dead_letter(**fields)`."""
    return dead_letters.encode(dead_letter(**fields))


def repeat_key(method: str, query: str, body: bytes, status: int, reason: str) -> bytes:
    """Two refusals are the same when the request's data (method, query, body) and the verdict
    (status, reason) are: a SHA-256 over length-prefixed parts, 32 bytes whatever the body."""
    digest = hashlib.sha256()
    for part in (method.encode(), query.encode("utf-8", "backslashreplace"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    digest.update(status.to_bytes(2, "big"))
    digest.update(reason.encode("utf-8", "backslashreplace"))
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
