"""codec.encode_record against fastavro alone (the codec before the compiled writer) over values
beyond the contract's usual ones: any zone offset, decimals with exponents, NaN and negative zero,
integers past 32 and 64 bits and booleans, lone surrogates and NUL in text, tuples for lists.
Same bytes, or the same kind of refusal."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

import fastavro
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract import codec, schemas
from tests.unit.test_compiled_writer import records

CURRENT = schemas.current()

_zones = st.builds(lambda s: timezone(timedelta(seconds=s)), st.integers(-86399, 86399))
_times = st.datetimes(timezones=_zones | st.timezones())
_text = st.text(
    alphabet=st.characters(codec="utf-8")
    | st.characters(categories=["Cs"])
    | st.sampled_from("\x00\u2028\ufeff\U0010ffff"),
    max_size=6,
)
_decimals = st.decimals(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [Decimal(t) for t in ["-0", "-0.0000", "0E+5", "1E+3", "-1E+13", "0E-5", "1E+14", "-0.00001"]]
    + [Decimal("9" * 14 + ".9999"), Decimal("-" + "9" * 18)]
)
_integers = (
    st.integers(-(2**64), 2**64)
    | st.booleans()
    | st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63)])
)
_lists = st.lists(_text, max_size=3) | st.lists(_text, max_size=2).map(tuple)


def _wild_value(name: str, value: Any) -> st.SearchStrategy[Any]:
    if name.endswith("_at"):
        return st.none() | _times
    if "price" in name or name == "shipping_cost":
        return st.none() | _decimals
    if name == "discount_percentage":
        return st.none() | _integers
    if name in ("labels", "additional_image_urls"):
        return st.none() | _lists
    if value is None or isinstance(value, str):
        return st.none() | _text
    return st.just(value)


@st.composite
def wild_records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = draw(records())
    for name, value in list(record.items()):
        if draw(st.integers(0, 3)) == 0:
            record[name] = draw(_wild_value(name, value))
    return record


def _outcome(write: Callable[[], bytes]) -> bytes | str:
    try:
        return write()
    except Exception as exc:  # the kind of refusal is what is compared
        return type(exc).__name__


def _fastavro_alone(record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, CURRENT.parsed, record)
    return codec.MAGIC + CURRENT.fingerprint_bytes + buffer.getvalue()


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(wild_records())
def test_the_codec_writes_or_refuses_as_fastavro_alone_did(record: dict[str, Any]) -> None:
    assert _outcome(lambda: codec.encode_record(dict(record))) == _outcome(
        lambda: _fastavro_alone(dict(record))
    )
