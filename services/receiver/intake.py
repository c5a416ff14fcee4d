"""A stored or live request -> one ProductChange: reading the format, mapping the template's keys,
validating every data point. Pure: the HTTP path and `catalog-stream dead-letters redrive` call
this same function, so a re-drive judges a refused postback exactly as the receiver does now."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl

from catalog_contract.events import ProductChange
from receiver import formats
from receiver.postback import build_change


def change_from_request(
    method: str,
    content_type: str | None,
    query: str,
    body: bytes,
    received_at: datetime,
    field_map: Mapping[str, str],
) -> ProductChange:
    """Raises UnreadableBody (400/415) or InvalidPostback (422). A GET carries its data points in
    the query string (read as Starlette reads `request.query_params`); other methods in the body."""
    if method.upper() == "GET":
        raw = formats.from_pairs(parse_qsl(query, keep_blank_values=True))
    else:
        raw = formats.parse_body(content_type, body)
    return build_change(raw, received_at, field_map)
