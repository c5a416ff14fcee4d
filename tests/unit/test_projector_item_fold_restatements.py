"""How the fold judges a restatement by the position it restates (README, "Compaction and
replays"), with the state it leaves and the notes it makes. No I/O."""

from __future__ import annotations

from decimal import Decimal

from catalog_contract.events import Availability
from projector.item_fold import apply, removed
from projector.item_state import (
    ChangeKind,
    ItemState,
    Known,
    NotableChange,
    Position,
    Removed,
    Verdict,
)
from projector.restatements import snapshot
from tests.factories import BASE_TIME, change, replace

KEY = ("42", "sku-1")


def stored(offset: int, **fields: object) -> ItemState:
    event = change(minute=1, price="10", stock=Availability.IN_STOCK, name="Mug", **fields)  # type: ignore[arg-type]
    state = apply(None, event, Position(0, offset)).state
    assert isinstance(state, ItemState)
    return state


def test_a_restatement_older_than_the_items_last_change_is_superseded_and_changes_nothing() -> None:
    known = stored(7)
    older = snapshot(stored(3))
    outcome = apply(known, older, Position(0, 9), restates=Position(0, 3))
    assert (outcome.verdict, outcome.state, outcome.changes) == (Verdict.SUPERSEDED, known, ())
    gone = removed(known, BASE_TIME, Position(0, 9), KEY, restates=Position(0, 3))
    assert (gone.verdict, gone.state, gone.changes) == (Verdict.SUPERSEDED, known, ())


def test_restating_the_state_the_views_hold_is_a_duplicate() -> None:
    known = stored(3)
    outcome = apply(known, snapshot(known), Position(0, 9), restates=Position(0, 3))
    assert (outcome.verdict, outcome.state, outcome.changes) == (Verdict.DUPLICATE, known, ())


def test_a_restatement_at_the_items_position_replaces_its_state_and_notes_the_difference() -> None:
    known = stored(3)
    cheaper = replace(snapshot(stored(3, sku="S")), current_price=Decimal("8.0000"))
    outcome = apply(known, cheaper, Position(0, 9), restates=Position(0, 3))
    assert outcome.verdict is Verdict.APPLIED
    assert isinstance(outcome.state, ItemState)
    assert (outcome.state.sku, outcome.state.current_price) == ("S", Decimal("8"))
    assert (outcome.state.revision, outcome.state.offset) == (known.revision, 3)
    assert outcome.changes == (
        NotableChange(ChangeKind.PRICE_DROP, "42", "sku-1", "10.00", "8.00"),
    )


def test_a_restatement_alone_after_compaction_adds_the_item_as_it_was() -> None:
    says = snapshot(stored(5))
    for previous in (None, Removed(*KEY, None, 0, 2)):
        known: Known = previous
        outcome = apply(known, says, Position(0, 9), restates=Position(0, 5))
        assert outcome.verdict is Verdict.APPLIED
        assert isinstance(outcome.state, ItemState)
        assert (outcome.state.revision, outcome.state.partition, outcome.state.offset) == (1, 0, 5)
        assert outcome.changes == (
            NotableChange(ChangeKind.ITEM_ADDED, "42", "sku-1", None, "10.00"),
        )


def test_a_restated_tombstone_at_the_items_position_removes_it_once() -> None:
    known = stored(3)
    marker = Removed(*KEY, BASE_TIME, 0, 3)
    gone = removed(known, BASE_TIME, Position(0, 9), KEY, restates=Position(0, 3))
    assert (gone.verdict, gone.state) == (Verdict.APPLIED, marker)
    assert gone.changes == (NotableChange(ChangeKind.ITEM_REMOVED, "42", "sku-1", "10.00", None),)
    again = removed(marker, BASE_TIME, Position(0, 10), KEY, restates=Position(0, 3))
    assert (again.verdict, again.state, again.changes) == (Verdict.DUPLICATE, marker, ())
    alone = removed(None, BASE_TIME, Position(0, 9), KEY, restates=Position(0, 3))
    assert (alone.verdict, alone.state, alone.changes) == (Verdict.APPLIED, marker, ())
