"""A stored or live request -> one ProductChange: reading the format, mapping the template's keys,
validating every data point. Pure: the HTTP path and `catalog-stream dead-letters redrive` call
this same function, so a re-drive judges a refused postback exactly as the receiver does now."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from catalog_contract.events import ProductChange
from receiver import formats
from receiver.errors import FieldProblem, InvalidPostback
from receiver.postback import DATA_POINTS, build_change, canonical_data_points
from receiver.values import RawValue, price, price_codes
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
        if query:
            raw = _with_query(raw, query, field_map)
            field_map = {}  # (applied: every key is a platform name now)
    return build_change(raw, received_at, field_map, max_future_skew)


def _with_query(
    raw: Mapping[str, RawValue], query: str, field_map: Mapping[str, str]
) -> dict[str, RawValue]:
    """A POST's data points: the body's and the query string's (the partner configures the URL,
    and may write data points into it, as a GET's are). One given in both must be given the
    same: the body's kept silently was a 200 for a value the sender may not have meant, and the
    query's dropped when the body lacked it. A parameter that is no data point (a token, a
    tag of the partner's) is ignored, as an unknown key is, even if its escapes are no UTF-8."""
    in_body = canonical_data_points(raw, field_map)
    in_query = canonical_data_points(formats.from_query(query, "surrogateescape"), field_map)
    problems = [
        FieldProblem(name, "given in the query string and in the body, with different values")
        for name, value in in_query.items()
        if name in in_body and not _same_value(name, in_body[name], value)
    ]
    if problems:
        raise InvalidPostback(problems)
    return {**in_query, **in_body}  # (one given in both: the body's text, as the body alone)


def _same_value(name: str, one: RawValue, other: RawValue) -> bool:
    """Whether two texts of data point `name` say the same: as text, or read alike by its own
    reading (`12.99` and `12.990`, `+40` and `40`, one instant at two offsets), with the same
    currency codes beside a price (`12.99 EUR` is not `12.99`). Texts that do not read are
    compared as text (build_change then refuses the one it keeps)."""
    if one == other:
        return True
    read = DATA_POINTS[name][1]
    try:
        same = read(one) == read(other)
    except ValueError:
        return False
    return same and (read is not price or price_codes(one) == price_codes(other))
