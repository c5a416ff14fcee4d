"""How events fold into item state, the change feed and catalog counts. No I/O."""

from __future__ import annotations

from decimal import Decimal

from catalog_contract.events import Availability, ChangeType
from projector.batch import CatalogDelta, catalog_deltas, plan_batch
from projector.item_fold import apply, removed
from projector.item_state import (
    ChangeKind,
    ItemState,
    Known,
    Outcome,
    Position,
    Removed,
    Verdict,
    with_id,
)
from projector.records import Incoming, Unreadable
from tests.factories import change

AT = Position(0, 10)


def present(known: Outcome | Known) -> ItemState:
    state = known.state if isinstance(known, Outcome) else known
    assert isinstance(state, ItemState), state
    return state


def test_first_snapshot_adds_the_item() -> None:
    outcome = apply(None, change(price="10.00", stock=Availability.IN_STOCK, name="Mug"), AT)
    assert outcome.verdict is Verdict.APPLIED
    assert (present(outcome).name, present(outcome).current_price) == ("Mug", Decimal("10.00"))
    assert present(outcome).revision == 1
    assert [c.kind for c in outcome.changes] == [ChangeKind.ITEM_ADDED]


def test_partial_update_keeps_known_fields_and_reports_price_drop() -> None:
    first = apply(None, change(price="10.00", name="Mug", stock=Availability.IN_STOCK), AT).state
    outcome = apply(first, change(minute=5, price="8.50"), Position(0, 11))
    state = present(outcome)
    assert state.name == "Mug"
    assert state.stock_availability is Availability.IN_STOCK
    assert state.current_price == Decimal("8.5000")
    assert state.revision == 2
    assert [(c.kind, c.old, c.new) for c in outcome.changes] == [
        (ChangeKind.PRICE_DROP, "10.00", "8.50")
    ]


def test_stock_transitions_are_notable() -> None:
    in_stock = apply(None, change(stock=Availability.IN_STOCK), AT).state
    out = apply(in_stock, change(minute=1, stock=Availability.OUT_OF_STOCK), AT)
    assert [c.kind for c in out.changes] == [ChangeKind.OUT_OF_STOCK]
    back = apply(out.state, change(minute=2, stock=Availability.LIMITED_AVAILABILITY), AT)
    assert [c.kind for c in back.changes] == [ChangeKind.BACK_IN_STOCK]


def test_older_retry_is_stale_and_exact_repeat_is_a_duplicate() -> None:
    newer = change(minute=10, price="12.00")
    state = apply(apply(None, change(minute=0, price="9.00"), AT).state, newer, AT).state
    stale = apply(state, change(minute=0, price="9.00"), Position(0, 12))
    assert stale.verdict is Verdict.STALE
    assert stale.state == state
    assert apply(state, newer, Position(0, 13)).verdict is Verdict.DUPLICATE


def test_removal_leaves_a_marker_and_the_tombstone_after_it_is_a_no_op() -> None:
    state = apply(None, change(minute=1, price="5"), AT).state
    removal = change(minute=2, kind=ChangeType.REMOVED)
    gone = apply(state, removal, Position(0, 11))
    marker = Removed("42", "sku-1", removal.source_updated_at, 0, 11, str(removal.event_id))
    assert gone.state == marker  # (not the item's ids: of another time)
    assert [(c.kind, c.old) for c in gone.changes] == [(ChangeKind.ITEM_REMOVED, "5.00")]
    tombstone = removed(gone.state, None, Position(0, 12), ("42", "sku-1"))
    assert (tombstone.verdict, tombstone.state) == (Verdict.DUPLICATE, gone.state)


def test_retried_old_removal_cannot_delete_a_newer_item() -> None:
    state = apply(None, change(minute=1, price="5"), AT).state
    old_tombstone = removed(state, change(minute=0).source_updated_at, AT, ("42", "sku-1"))
    assert (old_tombstone.verdict, old_tombstone.state) == (Verdict.STALE, state)


def test_older_retry_after_a_removal_is_stale_and_a_newer_postback_re_adds_the_item() -> None:
    state = apply(None, change(minute=1, price="5"), AT).state
    gone = apply(state, change(minute=5, kind=ChangeType.REMOVED), Position(0, 11)).state
    late_retry = apply(gone, change(minute=1, price="5"), Position(0, 12))
    assert (late_retry.verdict, late_retry.state, late_retry.changes) == (Verdict.STALE, gone, ())
    back = apply(gone, change(minute=9, price="6"), Position(0, 13))
    assert back.verdict is Verdict.APPLIED
    assert present(back).revision == 1
    assert [(c.kind, c.new) for c in back.changes] == [(ChangeKind.ITEM_ADDED, "6.00")]


def test_a_newer_removal_moves_the_removed_items_time_forward() -> None:
    # Defect 4: REMOVED(t5) then REMOVED(t9) kept t5, so a late UPDATE(t7) brought it back.
    state = apply(None, change(minute=1, price="5"), AT).state
    first = apply(state, change(minute=5, kind=ChangeType.REMOVED), Position(0, 11)).state
    newer = change(minute=9, kind=ChangeType.REMOVED)
    second = apply(first, newer, Position(0, 12))
    assert second.verdict is Verdict.APPLIED
    assert second.state == Removed(
        "42", "sku-1", newer.source_updated_at, 0, 12, str(newer.event_id)
    )
    assert second.changes == ()  # it was already gone: nothing notable
    late = apply(second.state, change(minute=7, price="6"), Position(0, 13))
    assert (late.verdict, late.state) == (Verdict.STALE, second.state)
    # Its tombstone (same time), an older removal and one without a time change nothing.
    key = ("42", "sku-1")
    for when in (change(minute=9).source_updated_at, change(minute=6).source_updated_at, None):
        again = removed(second.state, when, Position(0, 14), key)
        assert again.state == second.state
        assert again.verdict is not Verdict.APPLIED


def test_removal_of_an_unknown_item_keeps_its_late_creation_out() -> None:
    marker = removed(None, change(minute=5).source_updated_at, AT, ("42", "sku-1"))
    assert (marker.verdict, marker.changes) == (Verdict.APPLIED, ())
    assert apply(marker.state, change(minute=1, price="5"), AT).verdict is Verdict.STALE


def _incoming(offset: int, event: object, partition: int = 0) -> Incoming:
    from catalog_contract.events import ProductChange

    assert isinstance(event, ProductChange)
    return Incoming(partition, offset, event.catalog_id, event.catalog_item_id, event)


def test_plan_skips_what_was_already_applied_and_tracks_offsets() -> None:
    events = [
        _incoming(5, change("a", price="1")),
        _incoming(6, change("b", price="2", stock=Availability.IN_STOCK)),
        _incoming(7, change("a", minute=1, price="0.5")),
    ]
    plan = plan_batch(events, {0: 6}, lambda key: None)
    assert plan.skipped_already_applied == 1
    assert plan.next_offsets == {0: 8}
    assert set(plan.items) == {("42", "b"), ("42", "a")}
    assert present(plan.items[("42", "a")]).current_price == Decimal("0.5000")


def test_plan_records_unreadable_records_and_moves_past_them() -> None:
    plan = plan_batch([Unreadable(1, 3, "bad")], {}, lambda key: None)
    assert plan.next_offsets == {1: 4}
    assert [u.offset for u in plan.unreadable] == [3]


def test_catalog_counts_move_with_item_states() -> None:
    existing = apply(None, change("a", stock=Availability.OUT_OF_STOCK), AT).state
    plan = plan_batch(
        [
            _incoming(1, change("a", minute=1, stock=Availability.IN_STOCK)),
            _incoming(2, change("b", stock=Availability.IN_STOCK)),
            Incoming(0, 3, "42", "c", None),  # tombstone for an item not there: counts nothing
        ],
        {},
        lambda key: existing if key == ("42", "a") else None,
    )
    assert catalog_deltas(plan) == {"42": CatalogDelta(items=1, in_stock=2, out_of_stock=-1)}


def test_a_copy_landing_after_a_concurrent_postback_of_the_same_time_is_a_duplicate() -> None:
    # A retried partial written twice, its copy after a concurrent partial of the same second.
    full = apply(None, change(minute=1, price="5", name="Mug"), AT).state
    price = change(minute=2, price="4")
    stock = change(minute=2, stock=Availability.OUT_OF_STOCK)
    both = apply(apply(full, price, Position(0, 11)).state, stock, Position(0, 12)).state
    copy = apply(both, price, Position(0, 13))
    assert (copy.verdict, copy.state) == (Verdict.DUPLICATE, both)
    assert present(both).revision == 3


def test_with_id_puts_an_id_where_asked_and_keeps_the_newest_eight() -> None:
    assert with_id("", "a") == "a"
    assert with_id("", "a", 1) == "a"  # (nothing applied before it to go after)
    assert with_id("b c", "a") == "a b c"  # the event applied: first
    assert with_id("b c", "a", 1) == "b a c"  # a copy: after the applied one
    assert with_id("b a c", "a") == "a b c"  # a restatement of a kept id: moved first
    assert with_id(" ".join("bcdefghi"), "a") == " ".join("abcdefgh")  # the oldest forgotten
