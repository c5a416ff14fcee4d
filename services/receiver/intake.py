"""A stored or live request -> one ProductChange: reading the format, mapping the template's keys,
validating every data point. Pure: the HTTP path and `catalog-stream dead-letters redrive` call
this same function, so a re-drive judges a refused postback exactly as the receiver does now."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from catalog_contract.events import ProductChange
from receiver import formats
from receiver.postback import build_change
from receiver.xml_attributes import with_attributes


def query_text(raw: bytes) -> str:
    """A query string's bytes as text, one character per byte (Latin-1, as Starlette reads
    `request.query_params`): it never fails, whatever bytes arrive (`request.url.query` decodes
    strictly as UTF-8 and raised), and a dead-letter record keeps it so that a re-drive reads
    the query exactly as the live request was read."""
    return raw.decode("latin-1")


def change_from_request(
    method: str,
    content_type: str | None,
    query: str,
    body: bytes,
    received_at: datetime,
    field_map: Mapping[str, str],
    max_future_skew: timedelta = timedelta(days=1),
) -> ProductChange:
    """Raises UnreadableBody (400/415) or InvalidPostback (422). A GET carries its data points in
    the query string (`query_text`); other methods in the body (an XML body's attributes read
    with the field map: `with_attributes`)."""
    if method.upper() == "GET":
        raw = formats.from_query(query)
    else:
        raw, attributes = formats.read_body(content_type, body)
        raw = with_attributes(raw, attributes, field_map)
    return build_change(raw, received_at, field_map, max_future_skew)
