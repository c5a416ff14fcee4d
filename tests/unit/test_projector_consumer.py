"""What the consumer loop tells readers about its progress (no broker: the state is set directly,
as the loop sets it from fetch answers), and how it plans a batch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from catalog_contract import codec, headers
from catalog_contract.events import ProductChange
from catalog_contract.keys import product_key
from projector.batch import CatalogDelta
from projector.item_fold import ChangeKind, ItemState
from tests.factories import change
from tests.projector_harness import Message, consumer_loop


def test_one_known_end_of_three_partitions_is_not_caught_up(tmp_path: Path) -> None:
    # A rebuild switched generations with 11 of 50 records: the first fetch answer had come
    # from one partition, whose end was reached, and the other two ends were not known yet.
    projector = consumer_loop(tmp_path / "views.db")
    projector.assigned = frozenset({0, 1, 2})
    projector.end_offsets = {0: 11}
    projector.applied = {0: 11}
    assert not projector.caught_up()
    assert not projector.ready(max_lag=1000)
    projector.end_offsets.update({1: 20, 2: 19})
    assert not projector.caught_up()
    assert projector.ready(max_lag=39)
    assert not projector.ready(max_lag=38)
    projector.applied.update({1: 20, 2: 19})
    assert projector.caught_up()


def test_nothing_assigned_is_neither_caught_up_nor_ready(tmp_path: Path) -> None:
    projector = consumer_loop(tmp_path / "views.db")
    assert not projector.caught_up()
    assert not projector.ready(max_lag=1000)


def _message(offset: int, event: ProductChange) -> Message:
    key = product_key(event.catalog_id, event.catalog_item_id)
    return Message(0, offset, key, codec.encode(event), list(headers.for_change(event)))


def test_a_batch_planned_while_the_one_before_is_written_sees_that_ones_states(
    tmp_path: Path,
) -> None:
    """The next batch is planned before the previous one is in the store: its items come from
    the previous plan, the others from the store (which that write does not change)."""
    loop = consumer_loop(tmp_path / "views.db")
    other = change("b", minute=0, price="5")
    loop.store.write("t", loop._plan([_message(0, other)], {}))
    first = loop._plan([_message(1, change("a", minute=1, price="1"))], {0: 1})
    second = loop._plan(
        [
            _message(2, change("a", minute=2, price="2")),
            _message(3, change("b", minute=1, price="5", name="B")),
        ],
        {0: 2},
        after=first,  # not written
    )
    a, b = second.items[("42", "a")], second.items[("42", "b")]
    assert isinstance(a, ItemState)
    assert isinstance(b, ItemState)
    assert (a.revision, a.current_price, b.revision, b.name) == (2, Decimal("2"), 2, "B")
    assert second.before[("42", "a")] == first.items[("42", "a")]
    assert [e.change.kind for e in second.feed] == [ChangeKind.PRICE_RISE]
    assert second.catalogs == {"42": CatalogDelta()}  # "a" counted by the first batch
