"""A rebuilt generation continues the active one's feed: the database copies the older feed
itself (SQLite: the older file attached; PostgreSQL: the older schema), with the same rows and
numbers as the page-by-page copy through Python that it replaces. A recreated topic rebuilt, it
says the removal of each item the new generation dropped, once: not again for one whose removal
a record the builder applied past the older positions says (it did before: a second removal)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract.events import ChangeType
from projector.batch import plan_batch
from projector.generations import Generations
from projector.records import Incoming
from projector.store import ViewStore
from tests.factories import change

TOPIC = "t"


def _fill(store: ViewStore, prices: list[tuple[int, str, str]], pruned: int) -> dict[int, int]:
    """Records (partition, item, price) as one batch; the oldest `pruned` changes pruned."""
    store.create()
    offsets: dict[int, int] = {}
    records = []
    for partition, item, price in prices:
        records.append(Incoming(partition, offsets.get(partition, 0), "42", item,
                                change(item, price=price)))  # fmt: skip
        offsets[partition] = offsets.get(partition, 0) + 1
    if records:
        store.write(TOPIC, plan_batch(records, {}, lambda _: None))
    total = len(store._query("SELECT seq FROM changes"))
    if pruned and total:
        store.prune_changes(keep=max(1, total - pruned))
    return offsets


@contextmanager
def _paged(store: ViewStore) -> Iterator[str | None]:
    yield None  # the copy as it was: every row through Python


def _feed(store: ViewStore) -> list[tuple[Any, ...]]:
    return store._query("SELECT * FROM changes ORDER BY seq")


_records = st.lists(
    st.tuples(st.integers(0, 1), st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2"])),
    max_size=12,
)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(older_records=_records, own_records=_records, pruned=st.integers(0, 3))
def test_the_feed_copied_in_the_database_is_the_one_copied_through_python(
    generations: Generations,
    older_records: list[tuple[int, str, str]],
    own_records: list[tuple[int, str, str]],
    pruned: int,
) -> None:
    generations.open_active().close()  # as at any start: the pointer exists before a rebuild
    older = generations.open_new()
    older_next = _fill(older, older_records, pruned)
    copies = []
    for reading in (None, _paged):
        fresh = generations.open_new()
        _fill(fresh, own_records, 0)
        if reading is not None:
            fresh._reading = reading  # type: ignore[method-assign, assignment]
        fresh.continue_feed_of(older, older_next)
        fresh.write(  # the next change is numbered after all of them, and the store still writes
            TOPIC,
            plan_batch([Incoming(5, 0, "42", "z", change("z", price="3"))], {}, lambda _: None),
        )
        copies.append(_feed(fresh))
        generations.discard(fresh)
    generations.discard(older)
    attached, paged = copies
    assert attached == paged
    assert [row[0] for row in attached] == sorted({row[0] for row in attached})


def test_a_copy_that_fails_leaves_the_new_generation_as_it_was(generations: Generations) -> None:
    """The copy is one transaction: refused half-way (a feed row colliding with one of this
    generation's), nothing of it stays, and the writer connection still works."""
    generations.open_active().close()  # as at any start: the pointer exists before a rebuild
    older = generations.open_new()
    older_next = _fill(older, [(0, "a", "1"), (0, "b", "1")], 0)
    fresh = generations.open_new()
    _fill(fresh, [(1, "c", "2")], 0)
    fresh._query("SELECT 1")  # open the reader too
    before = _feed(fresh)
    with older._transaction() as cursor:  # the older feed cannot be read: the copy fails
        cursor.execute("DROP TABLE changes")
    with pytest.raises(Exception):  # noqa: B017, PT011 (each database words it its own way)
        fresh.continue_feed_of(older, older_next)
    assert _feed(fresh) == before
    fresh.write(TOPIC, plan_batch([Incoming(1, 1, "42", "d", change("d"))], {1: 1}, lambda _: None))
    assert len(_feed(fresh)) == len(before) + 1
    generations.discard(fresh)
    generations.discard(older)


@pytest.mark.parametrize("paged", [False, True], ids=["in-the-database", "through-python"])
def test_the_feed_says_the_removal_of_each_item_the_new_generation_dropped(
    generations: Generations, paged: bool
) -> None:
    """A recreated topic rebuilt (topic_behind): items the older generation holds and the new one
    does not get an `item_removed` after every other change, in item order, with their last
    price and no record's position; items both hold, or only the new one, get none. Without
    `say_dropped` (any other rebuild) nothing is added. Before: never said (attack33)."""
    generations.open_active().close()
    older = generations.open_new()
    older_next = _fill(older, [(0, "b", "1.5"), (0, "a", "2"), (1, "c", "3.25"), (1, "k", "4")], 0)
    for say_dropped, expected in ((False, []), (True, [("a", "2.00"), ("b", "1.50")])):
        fresh = generations.open_new()
        _fill(fresh, [(0, "c", "9"), (0, "k", "4"), (0, "n", "5")], 0)
        if paged:
            fresh._reading = _paged  # type: ignore[method-assign, assignment]
        said = fresh.continue_feed_of(older, older_next, say_dropped=say_dropped)
        feed = _feed(fresh)
        assert said == len(expected)
        assert [row[1:] for row in feed[len(feed) - said :]] == [
            ("item_removed", "42", item, price, None, None, -1, -1) for item, price in expected
        ]
        assert [row for row in feed[: len(feed) - said] if row[-1] == -1] == []
        assert [row[0] for row in feed] == sorted({row[0] for row in feed})
        generations.discard(fresh)
    generations.discard(older)


@pytest.mark.parametrize("paged", [False, True], ids=["in-the-database", "through-python"])
def test_an_item_whose_removal_the_new_generation_fed_is_not_said_removed_again(
    generations: Generations, paged: bool
) -> None:
    """The builder applies records past the older generation's positions (the live consumer
    stopped at the switch, the builder reads on): a REMOVED among them is fed by the new
    generation itself, with its record's position. The item is then one the older generation
    holds and the new one does not, yet the feed already says its removal. Failed: a second
    `item_removed` for it (event_id null, -1), a removal no record says, of a removed item."""
    generations.open_active().close()
    older = generations.open_new()
    older_next = _fill(older, [(0, "a", "1"), (0, "b", "2")], 0)
    fresh = generations.open_new()
    _fill(fresh, [(0, "a", "1"), (0, "b", "2")], 0)
    gone = change("b", minute=1, kind=ChangeType.REMOVED)
    known = fresh.load_items([("42", "b")]).get
    fresh.write(TOPIC, plan_batch([Incoming(0, 2, "42", "b", gone)], {0: 2}, known))
    if paged:
        fresh._reading = _paged  # type: ignore[method-assign, assignment]
    said = fresh.continue_feed_of(older, older_next, say_dropped=True)
    removals = [row[1:] for row in _feed(fresh) if row[1] == "item_removed"]
    assert said == 0
    assert removals == [("item_removed", "42", "b", "2.00", None, str(gone.event_id), 0, 2)]
    generations.discard(fresh)
    generations.discard(older)


@pytest.mark.parametrize("paged", [False, True], ids=["in-the-database", "through-python"])
def test_the_dropped_items_go_through_python_a_chunk_at_a_time(
    generations: Generations, paged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A topic recreated empty drops every item: on a large catalog, millions of removals, under
    the held pointer. Failed: all of them were read into Python at once, then written in one
    call (500,000 items: 4.7 s and 200 MB more in one process), memory bounded by nothing."""
    generations.open_active().close()
    older = generations.open_new()
    older_next = _fill(older, [(0, item, "1") for item in "abcde"], 0)
    fresh = generations.open_new()
    _fill(fresh, [], 0)
    if paged:
        fresh._reading = _paged  # type: ignore[method-assign, assignment]
    written: list[list[str]] = []
    add_changes = fresh._batch_write.add_changes

    def add(cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        written.append([row[2] for row in rows])
        add_changes(cursor, rows)

    monkeypatch.setattr(fresh._batch_write, "add_changes", add)
    assert fresh.continue_feed_of(older, older_next, chunk=2, say_dropped=True) == 5
    assert [item for page in written for item in page] == list("abcde")
    assert max(len(page) for page in written) <= 2
    assert [row[3] for row in _feed(fresh) if row[-1] == -1] == list("abcde")
    generations.discard(fresh)
    generations.discard(older)
