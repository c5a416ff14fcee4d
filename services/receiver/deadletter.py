"""What a dead-letter record holds: the raw request and why it was refused. Pure."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from receiver.errors import FieldProblem


def dead_letter_record(
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
) -> bytes:
    """JSON (readable by any Kafka tool). The credential header is never kept; the body is kept
    as text when it is UTF-8, else base64."""
    try:
        body_text: str | None = body.decode("utf-8")
        body_b64 = None
    except UnicodeDecodeError:
        body_text, body_b64 = None, base64.b64encode(body).decode("ascii")
    record: dict[str, Any] = {
        "request_id": request_id,
        "received_at": received_at.isoformat(),
        "method": method,
        "query": query,
        "content_type": headers.get("content-type"),
        "headers": {
            k: v
            for k, v in headers.items()
            if k.lower() not in (secret_header.lower(), "authorization", "cookie")
        },
        "body": body_text,
        "body_base64": body_b64,
        "status": status,
        "reason": reason,
        "errors": [{"field": p.field, "reason": p.reason} for p in problems or []],
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8")
