"""Which key each restatement is written under, and what a restated state says. No I/O."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal

from catalog_contract.events import Availability, ChangeType, ProductChange
from projector.batch import plan_batch
from projector.item_fold import apply
from projector.item_state import ItemState, Known, Position, Removed
from projector.records import Incoming
from projector.restatements import restatements, snapshot
from tests.factories import BASE_TIME, change


def rec(offset: int, event: ProductChange) -> Incoming:
    return Incoming(0, offset, event.catalog_id, event.catalog_item_id, event)


def stored(*events: ProductChange) -> ItemState:
    known: Known = None
    for offset, event in enumerate(events):
        known = apply(known, event, Position(0, offset)).state
    assert isinstance(known, ItemState)
    return known


def test_each_restatement_is_written_under_its_items_key() -> None:
    full = change("a", minute=1, price="1", stock=Availability.IN_STOCK, name="A")
    states = {("42", "a"): stored(full), ("42", "b"): stored(change("b", minute=1, name="B"))}
    plan = plan_batch(
        [rec(10, change("a", minute=2, price="2")), rec(11, change("b", minute=2, price="3"))],
        {},
        states.get,
    )
    assert [r.key for r in restatements(plan)] == [("42", "a"), ("42", "b")]


def test_a_removal_ending_one_items_batch_does_not_stop_restating_the_others() -> None:
    before = {
        ("42", "a"): stored(change("a", minute=1, price="1")),
        ("42", "b"): stored(change("b", minute=1, price="1", name="B")),
    }
    plan = plan_batch(
        [
            rec(10, change("a", minute=2, kind=ChangeType.REMOVED)),
            rec(11, change("b", minute=2, price="2")),
        ],
        {},
        before.get,
    )
    [restated] = restatements(plan)
    assert restated.key == ("42", "b")
    assert isinstance(restated.says, ProductChange)
    assert (restated.says.name, restated.says.current_price) == ("B", Decimal("2.0000"))


def test_a_removed_items_restatement_is_its_tombstone_under_its_key() -> None:
    gone = Removed("42", "c", BASE_TIME + timedelta(minutes=5), 0, 3)
    plan = plan_batch([rec(4, change("c", minute=1, price="1"))], {}, lambda key: gone)
    [restated] = restatements(plan)
    assert restated.key == ("42", "c")
    assert isinstance(restated.says, Removed)
    assert restated.says.source_updated_at == gone.source_updated_at
    # it restates the last record judged for the item (the stale one), which it supersedes
    assert restated.restates == Position(restated.says.partition, restated.says.offset)
    assert restated.restates == Position(0, 4)


def test_a_restated_state_is_an_update_saying_every_field_of_the_item() -> None:
    state = stored(
        change("d", "9", minute=1, price="7", stock=Availability.BACK_ORDER, name="D", mpn="M"),
        change("d", "9", minute=2, price="6"),
    )
    says = snapshot(state)
    placeholder = uuid.UUID(int=0)  # the restatement's own id is the restatement module's rule
    assert dataclasses.replace(says, event_id=placeholder) == ProductChange(
        event_id=placeholder,
        received_at=state.received_at,
        change_type=ChangeType.UPDATED,
        catalog_id="9",
        catalog_item_id="d",
        source_updated_at=BASE_TIME + timedelta(minutes=2),
        name="D",
        mpn="M",
        current_price=Decimal("6.0000"),
        stock_availability=Availability.BACK_ORDER,
    )
