"""The fixed-size key filter a rebuild's part keeps of the keys it wrote (key_filter.py): exact
values with integer keys (their hash is the integer), and never a wrong "never added"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projector.key_filter import KeyFilter


def _key(first: int, second: int) -> int:
    """A key whose two bits are `first` and `second` (hash(n) is n for these integers)."""
    return first | second << 32


def test_an_empty_filter_says_every_key_was_never_added() -> None:
    assert KeyFilter(8).maybe_added([_key(1, 2), ("c", "i"), 0]) == []


def test_a_key_is_maybe_added_only_if_both_its_bits_are_set() -> None:
    keys = KeyFilter(8)
    keys.add([_key(5, 7)])
    assert keys.maybe_added([_key(5, 7), _key(7, 5), _key(5, 5), _key(5, 6), 6, _key(6, 7)]) == [
        _key(5, 7),  # added
        _key(7, 5),  # the same two bits: a wrong "maybe", which costs a read back
        _key(5, 5),
    ]


def test_the_bits_wrap_at_the_filter_size() -> None:
    keys = KeyFilter(8)  # 256 bits
    keys.add([_key(256 + 3, 512 + 4)])
    assert keys.maybe_added([_key(3, 4), _key(3, 5)]) == [_key(3, 4)]


@pytest.mark.parametrize("bits_log2", [2, 33])
def test_a_size_outside_what_one_hash_indexes_is_refused(bits_log2: int) -> None:
    with pytest.raises(ValueError, match="bits_log2"):
        KeyFilter(bits_log2)


@given(
    added=st.lists(st.tuples(st.text(max_size=4), st.text(max_size=4)), max_size=60),
    asked=st.lists(st.tuples(st.text(max_size=4), st.text(max_size=4)), max_size=60),
    bits_log2=st.sampled_from([3, 6, 24]),
)
def test_every_key_added_is_maybe_added(
    added: list[tuple[str, str]], asked: list[tuple[str, str]], bits_log2: int
) -> None:
    keys = KeyFilter(bits_log2)
    keys.add(added)
    found = keys.maybe_added(asked + added)
    assert found[len(found) - len(added) :] == added  # in the order asked, none left out
    assert set(asked) & set(added) <= set(found)
