"""Hypothesis strategies for the values of a product change's fields, shared by the tests that
compare the codec's own writers and reader with fastavro's (test_compiled_writer.py,
test_object_writer.py, test_generated_reader.py): the edges of each type are the same for all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

texts = st.text(max_size=80)  # NUL and any code point UTF-8 can write (~ half over 1 byte)
optional_texts = st.none() | texts

# The first and the last microsecond a datetime holds, in UTC (in a zone ahead of or behind UTC,
# one of them would not convert to UTC), then any time in between in one of three zones.
extreme_times = st.sampled_from(
    [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
)
times = extreme_times | st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=5))]),
)

# Any price the schemas' decimal(18, 4) holds, with 0 to 4 places (or none).
prices = st.none() | st.integers(0, 4).flatmap(
    lambda places: st.decimals(
        min_value=Decimal("-99999999999999.9999"),
        max_value=Decimal("99999999999999.9999"),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)
