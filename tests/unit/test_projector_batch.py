"""Planning one batch: every record after a bad, stale or already-applied one still counts;
several events for one item fold in order; offsets, verdicts, feed and counts are exact. No I/O.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from catalog_contract.events import Availability, ChangeType, ProductChange
from projector.batch import BatchPlan, CatalogDelta, FeedEntry, catalog_deltas, plan_batch
from projector.item_fold import apply
from projector.item_state import (
    ChangeKind,
    ItemState,
    Known,
    NotableChange,
    Position,
    Removed,
    Verdict,
)
from projector.records import Incoming, Unreadable
from tests.factories import BASE_TIME, change

IN, OUT = Availability.IN_STOCK, Availability.OUT_OF_STOCK


def rec(offset: int, event: ProductChange, partition: int = 0) -> Incoming:
    return Incoming(partition, offset, event.catalog_id, event.catalog_item_id, event)


def tombstone(offset: int, item: str, minute: int | None = None, partition: int = 0) -> Incoming:
    at = None if minute is None else BASE_TIME + timedelta(minutes=minute)
    return Incoming(partition, offset, "42", item, None, at)


def nothing_stored(key: tuple[str, str]) -> Known:
    return None


def item(plan: BatchPlan, name: str, catalog: str = "42") -> ItemState:
    found = plan.items[(catalog, name)]
    assert isinstance(found, ItemState), found
    return found


def verdicts(plan: BatchPlan) -> dict[Verdict, int]:
    return {verdict: n for verdict, n in plan.verdicts.items() if n}


@pytest.mark.parametrize("bad_at", [0, 1, 2])
def test_an_unreadable_record_anywhere_leaves_every_other_record_applied(bad_at: int) -> None:
    records: list[Incoming | Unreadable] = []
    for event in [change("a", price="1"), change("b", price="2"), change("c")]:
        if len(records) == bad_at:
            records.append(Unreadable(0, bad_at, "not Avro"))
        records.append(rec(len(records), event))
    plan = plan_batch(records, {}, nothing_stored)
    assert set(plan.items) == {("42", "a"), ("42", "b"), ("42", "c")}
    assert [(u.offset, u.reason) for u in plan.unreadable] == [(bad_at, "not Avro")]
    assert plan.next_offsets == {0: 4}
    assert verdicts(plan) == {Verdict.APPLIED: 3}


def test_a_stale_record_first_or_in_the_middle_does_not_hide_the_records_after_it() -> None:
    stored = apply(None, change("a", minute=10, price="5"), Position(0, 0)).state
    plan = plan_batch(
        [
            rec(1, change("a", minute=1, price="4")),  # stale
            rec(2, change("b", minute=1, price="3")),
            rec(3, change("a", minute=2, price="4")),  # stale again
            rec(4, change("c", minute=1, price="2")),
        ],
        {0: 1},
        lambda key: stored if key == ("42", "a") else None,
    )
    assert {("42", "b"), ("42", "c")} <= set(plan.items)
    assert item(plan, "a").current_price == Decimal("5")  # the stale records changed nothing
    assert verdicts(plan) == {Verdict.STALE: 2, Verdict.APPLIED: 2}
    assert plan.next_offsets == {0: 5}
    assert plan.before[("42", "a")] == stored
    assert plan.touched_catalogs == {"42"}


def test_duplicates_first_do_not_hide_the_records_after_them() -> None:
    event = change("a", minute=1, price="4")
    stored = apply(None, event, Position(0, 0)).state
    plan = plan_batch(
        [rec(1, event), rec(2, change("a", minute=2, price="5"))],
        {0: 1},
        lambda key: stored,
    )
    assert verdicts(plan) == {Verdict.DUPLICATE: 1, Verdict.APPLIED: 1}
    assert item(plan, "a").current_price == Decimal("5")


def test_records_already_applied_are_skipped_and_counted_wherever_they_are() -> None:
    plan = plan_batch(
        [
            rec(3, change("a", price="1")),  # applied by an earlier transaction
            rec(4, change("b", price="1")),
            rec(0, change("x", price="1"), partition=1),  # a partition not seen before
            rec(4, change("b", price="9")),  # fetched twice within the batch
            rec(1, change("y", price="1"), partition=1),
        ],
        {0: 4, 2: 7},
        nothing_stored,
    )
    assert plan.skipped_already_applied == 2
    assert set(plan.items) == {("42", "b"), ("42", "x"), ("42", "y")}
    assert item(plan, "b").current_price == Decimal("1")
    assert plan.next_offsets == {0: 5, 1: 2}
    assert plan.planned_from == {0: 4, 1: 0}  # where the store stood for each partition planned


def test_a_batch_of_only_applied_records_plans_nothing() -> None:
    plan = plan_batch([rec(0, change("a")), rec(1, change("a"))], {0: 2}, nothing_stored)
    assert (plan.skipped_already_applied, plan.next_offsets, plan.planned_from) == (2, {}, {})
    assert (plan.items, plan.before) == ({}, {})


def test_several_events_for_one_item_in_one_batch_fold_in_order() -> None:
    stored = apply(None, change("a", minute=0, price="10", stock=IN, name="Mug"), Position(0, 0))
    lookups: list[tuple[str, str]] = []

    def lookup(key: tuple[str, str]) -> Known:
        lookups.append(key)
        return stored.state

    first = change("a", minute=1, price="8")
    second = change("a", minute=2, stock=OUT)
    third = change("a", minute=3, price="9", sku="S")
    plan = plan_batch([rec(1, first), rec(2, second), rec(3, third)], {0: 1}, lookup)
    assert lookups == [("42", "a")]  # the store is asked once; then the plan's own state
    final = item(plan, "a")
    assert (final.name, final.current_price, final.stock_availability, final.sku) == (
        "Mug",
        Decimal("9"),
        OUT,
        "S",
    )
    assert (final.revision, final.partition, final.offset) == (4, 0, 3)
    assert final.last_event_id == str(third.event_id)
    assert plan.before == {("42", "a"): stored.state}
    assert plan.last_records[("42", "a")] == rec(3, third)
    assert plan.feed == [
        FeedEntry(
            NotableChange(ChangeKind.PRICE_DROP, "42", "a", "10.00", "8.00"),
            Position(0, 1),
            str(first.event_id),
        ),
        FeedEntry(
            NotableChange(ChangeKind.OUT_OF_STOCK, "42", "a", "IN_STOCK", "OUT_OF_STOCK"),
            Position(0, 2),
            str(second.event_id),
        ),
        FeedEntry(
            NotableChange(ChangeKind.PRICE_RISE, "42", "a", "8.00", "9.00"),
            Position(0, 3),
            str(third.event_id),
        ),
    ]
    assert verdicts(plan) == {Verdict.APPLIED: 3}


def test_an_item_added_removed_and_re_added_in_one_batch() -> None:
    plan = plan_batch(
        [
            rec(5, change("a", minute=1, price="3"), partition=2),
            rec(6, change("a", minute=2, kind=ChangeType.REMOVED), partition=2),
            tombstone(7, "a", minute=2, partition=2),
            rec(8, change("a", minute=1, price="3"), partition=2),  # the first one, retried
            rec(9, change("a", minute=4, price="6"), partition=2),
        ],
        {},
        nothing_stored,
    )
    assert verdicts(plan) == {Verdict.APPLIED: 3, Verdict.DUPLICATE: 1, Verdict.STALE: 1}
    assert [(e.change.kind, e.position, e.event_id is None) for e in plan.feed] == [
        (ChangeKind.ITEM_ADDED, Position(2, 5), False),
        (ChangeKind.ITEM_REMOVED, Position(2, 6), False),
        (ChangeKind.ITEM_ADDED, Position(2, 9), False),
    ]
    assert (item(plan, "a").revision, item(plan, "a").current_price) == (1, Decimal("6"))


def test_a_tombstone_removing_an_item_has_no_event_id_in_the_feed() -> None:
    stored = apply(None, change("a", minute=1, price="3"), Position(0, 0)).state
    plan = plan_batch([tombstone(1, "a", minute=2)], {0: 1}, lambda key: stored)
    assert plan.feed == [
        FeedEntry(
            NotableChange(ChangeKind.ITEM_REMOVED, "42", "a", "3.00", None), Position(0, 1), None
        )
    ]
    assert plan.items == {("42", "a"): Removed("42", "a", BASE_TIME + timedelta(minutes=2), 0, 1)}


def test_only_catalogs_with_an_applied_change_are_touched() -> None:
    stored = apply(None, change("a", "1", minute=9, price="3"), Position(0, 0)).state
    plan = plan_batch(
        [rec(1, change("a", "1", minute=1, price="2")), rec(2, change("b", "2", price="2"))],
        {},
        lambda key: stored if key == ("1", "a") else None,
    )
    assert plan.touched_catalogs == {"2"}


def test_catalog_counts_move_in_the_right_direction() -> None:
    def stored(catalog: str, name: str, stock: Availability) -> Known:
        return apply(None, change(name, catalog, minute=0, stock=stock), Position(0, 0)).state

    before = {
        (catalog, name): stored(catalog, name, stock)
        for catalog, name, stock in [
            ("42", "in-to-out", IN),
            ("42", "out-to-in", OUT),
            ("42", "in-removed", IN),
            ("7", "out-removed", OUT),
            ("7", "in-to-back-order", IN),
        ]
    }
    plan = plan_batch(
        [
            rec(1, change("in-to-out", minute=1, stock=OUT)),
            rec(2, change("out-to-in", minute=1, stock=IN)),
            rec(3, change("in-removed", minute=1, kind=ChangeType.REMOVED)),
            rec(4, change("out-removed", "7", minute=1, kind=ChangeType.REMOVED)),
            rec(5, change("in-to-back-order", "7", minute=1, stock=Availability.BACK_ORDER)),
            rec(6, change("new-out", "7", minute=1, stock=OUT)),
            rec(7, change("new-unknown", "8", minute=1, price="1")),
        ],
        {},
        lambda key: before.get(key),
    )
    assert catalog_deltas(plan) == {
        "42": CatalogDelta(items=-1, in_stock=-1, out_of_stock=0),
        "7": CatalogDelta(items=0, in_stock=-1, out_of_stock=0),
        "8": CatalogDelta(items=1, in_stock=0, out_of_stock=0),
    }


def test_the_plan_says_what_the_store_writes() -> None:
    """The store only executes the plan: which rows and markers go, the catalogs' counts and
    their newest change time are decided here, from each item's state before and after."""
    stored_a = apply(None, change("a", minute=0, stock=IN), Position(0, 0)).state
    removed_b = Removed("42", "b", BASE_TIME, 0, 1)
    before: dict[tuple[str, str], Known] = {("42", "a"): stored_a, ("42", "b"): removed_b}
    plan = plan_batch(
        [
            rec(2, change("a", minute=3, kind=ChangeType.REMOVED)),
            rec(3, change("b", minute=7, stock=OUT)),
            rec(4, change("c", minute=5, stock=IN)),
            rec(5, change("d", "7", minute=1, kind=ChangeType.REMOVED)),
        ],
        {},
        lambda key: before.get(key),
    )
    assert [(s.catalog_id, s.item_id) for s in plan.present()] == [("42", "b"), ("42", "c")]
    assert [(s.catalog_id, s.item_id) for s in plan.gone()] == [("42", "a"), ("7", "d")]
    assert plan.unmarked() == [("42", "b")]  # re-added: its removal marker goes
    assert plan.dropped() == [("42", "a")]  # "d" was never stored: no row to delete
    assert plan.catalogs == {
        "42": CatalogDelta(items=1, in_stock=0, out_of_stock=1),
        "7": CatalogDelta(items=0, in_stock=0, out_of_stock=0),
    }
    # The newest received time of a state the catalog keeps; a catalog with removals only has
    # none (the store then keeps its stored time).
    assert plan.last_change_at == {"42": BASE_TIME + timedelta(minutes=7, seconds=1)}


def test_a_stale_record_moves_the_position_but_no_count() -> None:
    stored = apply(None, change("a", minute=5), Position(0, 0)).state
    plan = plan_batch([rec(1, change("a", minute=1))], {}, lambda key: stored)
    assert [(s.partition, s.offset) for s in plan.present()] == [(0, 1)]
    assert (plan.unmarked(), plan.dropped()) == ([], [])
    assert plan.catalogs == {"42": CatalogDelta()}
    # No change: the stored state's time dated the catalog when that state was applied.
    assert plan.last_change_at == {}


def test_a_rebuild_feeds_only_changes_at_or_after_the_active_generations_positions() -> None:
    """Below `feed_from` the active generation announced the changes already (its feed is kept
    across the switch): the item still changes, the feed does not repeat them."""
    plan = plan_batch(
        [
            rec(4, change("a", minute=1, price="1")),
            rec(5, change("b", minute=1, price="2")),
            Incoming(1, 2, "42", "c", change("c", minute=1, price="3")),
            Incoming(2, 0, "42", "d", change("d", minute=1, price="4")),  # not in feed_from
        ],
        {},
        lambda key: None,
        feed_from={0: 5, 1: 9},
    )
    assert set(plan.items) == {("42", "a"), ("42", "b"), ("42", "c"), ("42", "d")}
    assert [(e.change.item_id, e.position) for e in plan.feed] == [
        ("b", Position(0, 5)),
        ("d", Position(2, 0)),
    ]
    assert plan.catalogs == {"42": CatalogDelta(items=4)}
