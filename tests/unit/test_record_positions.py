"""A record's position as text, `partition:offset`: one formatter and one parser
(catalog_contract.positions), used by every service and command. No I/O."""

from __future__ import annotations

import pytest

from catalog_contract import headers
from catalog_contract.errors import DecodeError
from catalog_contract.positions import parse_position, position_text


def test_a_position_reads_back_as_written() -> None:
    assert position_text(3, 120) == "3:120"
    assert parse_position("3:120") == (3, 120)
    assert parse_position("0:0") == (0, 0)
    assert parse_position(position_text(999_999_999, 10**18 - 1)) == (999_999_999, 10**18 - 1)


@pytest.mark.parametrize(
    "text",
    ["", ":", "3", "3:", ":120", "3:120:1", "-1:5", "3:-5", "+3:5", " 3:120", "3 : 120", "3:1.0",
     "²:1", "3:١٢", "1234567890:1", "1:" + "9" * 19, "1:" + "9" * 5000],
)  # fmt: skip
def test_anything_else_is_no_position(text: str) -> None:
    assert parse_position(text) is None


def test_a_restatement_header_is_read_with_the_same_parser() -> None:
    assert headers.restated([headers.restates(2, 7)]) == (2, 7)
    # A header of 5,000 digits is refused as not a position, not by int()'s own digit limit.
    with pytest.raises(DecodeError, match="partition:offset"):
        headers.restated([(headers.RESTATES, ("1:" + "9" * 5000).encode())])
