"""values.price reads a plain decimal (`486.19`, the usual price) by a fast path: it must give
exactly what the full rules give (the same Decimal, at the schema's scale, or the same refusal),
at every edge of the fast path's pattern."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver import values

_EXPECTED = "(expected e.g. '12.99' or '1,299.00')"


def _outcome(read: object, raw: values.RawValue) -> tuple[str, str]:
    try:
        found = read(raw)  # type: ignore[operator]
    except ValueError as exc:
        return "refused", str(exc)
    assert isinstance(found, Decimal)
    return "read", str(found)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", "0.0000"),
        ("00000000000000", "0.0000"),
        ("7", "7.0000"),
        ("486.19", "486.1900"),
        ("12.5", "12.5000"),
        ("0.0001", "0.0001"),
        ("99999999999999.9999", "99999999999999.9999"),  # 14 digits: the largest price
        ("000000000000000001.5", "1.5000"),  # leading zeros: the full rules' answer
    ],
)
def test_plain_decimals_are_read_at_the_schemas_scale(raw: str, expected: str) -> None:
    assert str(values.price(raw)) == expected
    assert str(values._price_in_full(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("100000000000000", "too large: '100000000000000'"),  # 15 digits
        ("100000000000000.5", "too large: '100000000000000.5'"),
        ("1.12345", "more than 4 decimal places: '1.12345'"),
        ("1.", "not a decimal price: '1.' " + _EXPECTED),
        (".5", "not a decimal price: '.5' " + _EXPECTED),
        ("", "not a decimal price: '' " + _EXPECTED),
        ("١٢", "not a decimal price: '١٢' " + _EXPECTED),  # Arabic-Indic digits
    ],
)
def test_what_the_fast_path_does_not_read_gets_the_full_rules_refusal(
    raw: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)) as refused:
        values.price(raw)
    assert str(refused.value) == reason


def test_a_list_is_still_refused_as_a_list() -> None:
    with pytest.raises(ValueError, match="expected a single value, got a list"):
        values.price(["12.99"])


@given(
    st.from_regex(r"\A\s?[0-9]{0,16}(\.[0-9]{0,6})?\s?\Z")
    | st.text(alphabet="0123456789.,$ E-", max_size=24)
)
def test_the_fast_path_gives_what_the_full_rules_give(raw: str) -> None:
    assert _outcome(values.price, raw) == _outcome(values._price_in_full, raw)


@pytest.mark.parametrize("raw", ["0", "486.19", "99999999999999.9999", "7.5"])
def test_a_plain_decimal_takes_the_fast_path(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_here(_: values.RawValue) -> Decimal:
        raise AssertionError("read by the full rules")

    monkeypatch.setattr(values, "_price_in_full", not_here)
    assert values.price(raw) == Decimal(raw)
