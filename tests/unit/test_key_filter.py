"""The fixed-size key filter a rebuild's part keeps of the keys it wrote (key_filter.py): exact
values with integer keys (their hash is the integer), and never a wrong "never added"; and when
it steps aside for good (PayingKeyFilter: judged per window of keys asked, worth_keeping)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projector.key_filter import KeyFilter, PayingKeyFilter, worth_keeping


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


def test_the_smallest_size_is_one_byte() -> None:
    keys = KeyFilter(3)  # 8 bits: every index wraps at 8
    keys.add([_key(1, 9)])
    assert keys.maybe_added([_key(9, 1), _key(1, 2), _key(2, 1)]) == [_key(9, 1)]


class Unhashed:
    """A key whose hash must not be asked."""

    def __hash__(self) -> int:
        raise AssertionError("hashed")


def test_an_empty_filter_answers_without_hashing() -> None:
    assert KeyFilter(8).maybe_added([Unhashed()]) == []


def test_adding_says_how_many_keys_it_added() -> None:
    keys = KeyFilter(8)
    assert keys.add([]) == 0
    assert keys.maybe_added([Unhashed()]) == []  # still empty: nothing hashed
    assert keys.add(iter([1, 2, 2])) == 3
    assert keys.add([]) == 0
    assert keys.count == 3
    assert keys.maybe_added([1, 3]) == [1]


@pytest.mark.parametrize(("bits_log2", "nbytes"), [(3, 1), (8, 32), (24, 2 * 1024 * 1024)])
def test_a_filter_takes_its_bits_in_memory(bits_log2: int, nbytes: int) -> None:
    keys = KeyFilter(bits_log2)
    keys.add(range(10_000))
    assert keys.nbytes == nbytes


def test_a_window_is_not_judged_before_it_asked_its_keys() -> None:
    keys = PayingKeyFilter(8, window=4)
    keys.add([1])
    assert keys.maybe_added([1, 1, 1]) == [1, 1, 1]  # 3 asked, none spared: not judged yet
    assert keys.on


def test_every_add_of_a_window_counts() -> None:
    keys = PayingKeyFilter(8, window=4)
    for key in (1, 2, 3):
        keys.add([key])
    assert keys.maybe_added([1, 5, 6, 7]) == [1]  # 3 spared: 2,550 < 4 x 400 + 3 x 400
    assert not keys.on


@pytest.mark.parametrize(
    ("asked", "spared", "added", "kept"),
    [
        (0, 0, 0, True),
        (1000, 1000, 0, True),
        (17, 8, 0, True),  # 8 x 850 = 17 x 400: even, kept
        (17, 7, 0, False),
        (2126, 1000, 0, False),  # 850,000 < 850,400
        (13, 8, 4, True),  # 8 x 850 = 13 x 400 + 4 x 400
        (13, 7, 4, False),
        (1000, 942, 1000, True),  # every key new: kept only if nearly all are spared
        (1000, 941, 1000, False),
    ],
)
def test_a_filter_is_worth_keeping_while_it_spares_more_than_it_hashes(
    asked: int, spared: int, added: int, kept: bool
) -> None:
    assert worth_keeping(asked, spared, added) is kept


def test_a_filter_steps_aside_once_a_window_does_not_pay() -> None:
    keys = PayingKeyFilter(8, window=4)
    keys.add([1])
    assert keys.maybe_added([5, 6, 7, 8]) == []  # 4 asked, 4 spared, 1 added: kept
    assert keys.on
    assert keys.maybe_added([1, 1, 5]) == [1, 1]  # 3 asked: not judged yet
    assert keys.on
    assert keys.maybe_added([6]) == []  # 4 asked, 2 spared, none added: kept
    assert keys.on
    keys.add([2])
    assert keys.maybe_added([1, 2, 5, 6]) == [1, 2]  # 4 asked, 2 spared, 1 added: aside
    assert not keys.on
    asked = [8, 9]  # never added: every key "maybe" from now on, the list asked itself
    assert keys.maybe_added(asked) is asked


def test_each_window_is_judged_on_its_own_keys() -> None:
    keys = PayingKeyFilter(8, window=4)
    keys.add([1])
    assert keys.maybe_added([5, 6, 7, 8, 9, 10, 11, 12]) == []  # 8 spared, 1 added: kept
    assert keys.on
    assert keys.maybe_added([1, 1, 1, 5]) == [1, 1, 1]  # 1 spared of 4: aside
    assert not keys.on  # (over both windows, 9 spared of 12, 1 added: it would have paid)


def test_a_filter_aside_hashes_nothing_it_is_given() -> None:
    keys = PayingKeyFilter(8, window=1)
    keys.add([1])
    assert keys.maybe_added([1]) == [1]
    assert not keys.on
    keys.add([Unhashed()])
    unhashed = [Unhashed()]
    assert keys.maybe_added(unhashed) is unhashed


def test_a_filter_on_answers_as_its_keys() -> None:
    keys = PayingKeyFilter(8)  # (a window of WINDOW keys: not judged here)
    assert keys.maybe_added([_key(5, 7)]) == []
    keys.add([_key(5, 7)])
    assert keys.maybe_added([_key(5, 7), _key(5, 6), _key(7, 5)]) == [_key(5, 7), _key(7, 5)]
    assert keys.on


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


@given(
    added=st.lists(st.integers(0, 1 << 40), max_size=60),
    asked=st.lists(st.lists(st.integers(0, 1 << 40), max_size=10), max_size=12),
    window=st.integers(1, 30),
)
def test_a_paying_filter_never_says_never_for_a_key_added(
    added: list[int], asked: list[list[int]], window: int
) -> None:
    keys = PayingKeyFilter(6, window)
    keys.add(added)
    for batch in asked:
        found = keys.maybe_added(batch + added)
        assert found[len(found) - len(added) :] == added
