"""`build_change` builds the ProductChange without its frozen `__init__` (receiver/postback.py);
for generated data points, valid and hostile, it must give what the code it replaced gave (kept
here as the oracle): an equal change, the same Kafka records byte for byte, or the same 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import ChangeType, ProductChange
from catalog_contract.keys import SEPARATOR
from catalog_contract.writing import product_records
from receiver.errors import FieldProblem, InvalidPostback
from receiver.postback import (
    DATA_POINTS,
    REQUIRED,
    _check_price_currencies,
    build_change,
    canonical_data_points,
    event_id_for,
)
from receiver.values import RawValue
from tests.hostile_inputs import fuzz_settings, points

RECEIVED = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _replaced_build_change(
    raw: dict[str, RawValue], received_at: datetime, max_future_skew: timedelta
) -> ProductChange:
    """build_change as it was before (one of its lines differs: the last)."""
    points = canonical_data_points(raw, {})
    problems = [
        FieldProblem(name, "required but missing or empty")
        for name in REQUIRED
        if name not in points
    ]
    content: dict[str, Any] = {"change_type": ChangeType.UPDATED}
    for name, raw_value in points.items():
        field, parse = DATA_POINTS[name]
        try:
            content[field] = parse(raw_value)
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
    _check_price_currencies(points, content, problems)  # (stop 37: the oracle's rules follow)
    updated_at = content.get("source_updated_at")
    if updated_at is not None and updated_at - received_at > max_future_skew:
        problems.append(
            FieldProblem(
                "DateLastUpdated",
                f"{updated_at.isoformat()} is more than {max_future_skew} after the time received "
                f"({received_at.isoformat()})",
            )
        )
    if SEPARATOR in content.get("catalog_id", ""):
        problems.append(FieldProblem("CatalogId", f"may not contain {SEPARATOR!r}"))
    if problems:
        raise InvalidPostback(problems)
    return ProductChange(event_id=event_id_for(content), received_at=received_at, **content)


def _outcome(build: Any, raw: dict[str, RawValue], skew: timedelta) -> tuple[str, Any]:
    try:
        change = build(raw, RECEIVED, max_future_skew=skew)
    except InvalidPostback as exc:
        return "422", str(exc)
    records = product_records(change)
    return "200", (change, repr(change), records.key, records.values, records.headers)


@fuzz_settings(1500)
@given(points, st.sampled_from([timedelta(days=1), timedelta(0), timedelta(days=-36500)]))
def test_build_change_gives_what_the_replaced_code_gave(
    raw: dict[str, RawValue], skew: timedelta
) -> None:
    assert _outcome(build_change, raw, skew) == _outcome(_replaced_build_change, raw, skew)


@fuzz_settings(300)
@given(
    st.fixed_dictionaries(
        {
            "CatalogId": st.sampled_from(["1", "7", "cat"]),
            "CatalogItemId": st.text(min_size=1, max_size=8).filter(str.strip),
        },
        optional={
            name: st.sampled_from(["12.99", "InStock", "EUR", "2026-11-27T10:00:00Z", "a,b", "7"])
            for name in DATA_POINTS
            if name not in REQUIRED
        },
    )
)
def test_valid_postbacks_build_as_before(raw: dict[str, RawValue]) -> None:
    """Mostly accepted postbacks (the generated hostile ones are mostly refused)."""
    skew = timedelta(days=1)
    assert _outcome(build_change, raw, skew) == _outcome(_replaced_build_change, raw, skew)
