"""The fold's rules, one by one, with exact expected states and notes. No I/O.

README, "Views": last writer wins by the source's DateLastUpdated; a tie goes to the later
offset (the record written last); a postback without DateLastUpdated is applied, never stale.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from catalog_contract.events import Availability, ChangeType
from projector.item_fold import apply, removed
from projector.item_state import (
    ChangeKind,
    ItemState,
    Known,
    NotableChange,
    Outcome,
    Position,
    Removed,
    Verdict,
)
from tests.factories import BASE_TIME, change, replace

README = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
KEY = ("42", "sku-1")


def state_of(outcome: Outcome) -> ItemState:
    assert isinstance(outcome.state, ItemState), outcome
    return outcome.state


def test_the_readme_states_the_tie_rule() -> None:
    assert (
        "**last writer wins by the source's `DateLastUpdated`** (ties: the later offset, i.e. the"
        " record written last, wins; a postback without `DateLastUpdated` is applied and keeps"
        " the item's time)"
    ) in README


def test_a_tie_in_date_last_updated_goes_to_the_record_written_later() -> None:
    first = state_of(apply(None, change(minute=5, price="10.00", name="Mug"), Position(0, 1)))
    outcome = apply(first, change(minute=5, price="11.00", name="Mug"), Position(0, 2))
    assert outcome.verdict is Verdict.APPLIED
    assert (state_of(outcome).current_price, state_of(outcome).offset) == (Decimal("11"), 2)
    assert [c.kind for c in outcome.changes] == [ChangeKind.PRICE_RISE]


def test_one_microsecond_older_is_stale() -> None:
    known = state_of(apply(None, change(minute=5, price="10.00"), Position(0, 1)))
    older = replace(
        change(price="9.00"), source_updated_at=BASE_TIME + timedelta(minutes=5, microseconds=-1)
    )
    outcome = apply(known, older, Position(0, 2))
    assert (outcome.verdict, outcome.state, outcome.changes) == (Verdict.STALE, known, ())


def test_an_update_without_date_last_updated_is_applied_and_keeps_the_items_time() -> None:
    known = state_of(apply(None, change(minute=5, price="10.00", name="Mug"), Position(0, 1)))
    outcome = apply(known, change(minute=None, price="12.00"), Position(0, 2))
    assert outcome.verdict is Verdict.APPLIED
    after = state_of(outcome)
    assert (after.current_price, after.name) == (Decimal("12"), "Mug")
    assert after.source_updated_at == BASE_TIME + timedelta(minutes=5)
    # so an older retry is still refused afterwards
    assert apply(after, change(minute=1, price="3.00"), Position(0, 3)).verdict is Verdict.STALE


def test_a_first_postback_without_time_adds_the_item_with_no_time() -> None:
    outcome = apply(None, change(minute=None, price="1.00"), Position(0, 1))
    assert outcome.verdict is Verdict.APPLIED
    assert state_of(outcome).source_updated_at is None
    # and then any dated postback is newer
    later = apply(state_of(outcome), change(minute=0, price="2.00"), Position(0, 2))
    assert later.verdict is Verdict.APPLIED


def test_the_state_says_where_and_when_it_came_from() -> None:
    event = change("sku-9", "7", minute=3, price="4.50", stock=Availability.IN_STOCK, gtin="1")
    outcome = apply(None, event, Position(2, 40))
    assert outcome.state == ItemState(
        catalog_id="7",
        item_id="sku-9",
        last_event_id=str(event.event_id),
        received_at=event.received_at,
        partition=2,
        offset=40,
        revision=1,
        source_updated_at=event.source_updated_at,
        current_price=Decimal("4.5000"),
        stock_availability=Availability.IN_STOCK,
        gtin="1",
    )
    assert outcome.changes == (NotableChange(ChangeKind.ITEM_ADDED, "7", "sku-9", None, "4.50"),)


def test_a_duplicate_keeps_the_state_as_it_was() -> None:
    event = change(minute=3, price="4.50")
    known = state_of(apply(None, event, Position(0, 1)))
    again = apply(known, event, Position(0, 9))
    assert (again.verdict, again.state, again.changes) == (Verdict.DUPLICATE, known, ())


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("10.00", "12.50", ChangeKind.PRICE_RISE),
        ("10.00", "10.0001", ChangeKind.PRICE_RISE),
        ("10.00", "9.99", ChangeKind.PRICE_DROP),
        ("0.125", "0", ChangeKind.PRICE_DROP),
    ],
)
def test_price_changes_are_notable_in_their_direction(old: str, new: str, kind: ChangeKind) -> None:
    known = state_of(apply(None, change("m", "3", minute=1, price=old), Position(0, 1)))
    outcome = apply(known, change("m", "3", minute=2, price=new), Position(0, 2))
    expected_new = {"12.50": "12.50", "10.0001": "10.0001", "9.99": "9.99", "0": "0.00"}[new]
    expected_old = {"10.00": "10.00", "0.125": "0.125"}[old]
    assert outcome.changes == (NotableChange(kind, "3", "m", expected_old, expected_new),)


def test_the_same_price_again_or_no_price_is_not_a_price_change() -> None:
    known = state_of(apply(None, change(minute=1, price="10.00"), Position(0, 1)))
    assert apply(known, change(minute=2, price="10.0000", name="x"), Position(0, 2)).changes == ()
    assert apply(known, change(minute=2, name="y"), Position(0, 2)).changes == ()


IN, OUT, LIMITED, BACK, PRE = (
    Availability.IN_STOCK,
    Availability.OUT_OF_STOCK,
    Availability.LIMITED_AVAILABILITY,
    Availability.BACK_ORDER,
    Availability.PRE_ORDER,
)
# Every availability transition and what the change feed says about it: "back in stock" when
# the item can be bought now (in stock, or limited) and could not before; "out of stock" when
# it becomes out of stock.
TRANSITIONS = [
    (IN, OUT, ChangeKind.OUT_OF_STOCK),
    (IN, LIMITED, None),
    (IN, BACK, None),
    (IN, PRE, None),
    (OUT, IN, ChangeKind.BACK_IN_STOCK),
    (OUT, LIMITED, ChangeKind.BACK_IN_STOCK),
    (OUT, BACK, None),
    (OUT, PRE, None),
    (LIMITED, IN, None),
    (LIMITED, OUT, ChangeKind.OUT_OF_STOCK),
    (LIMITED, BACK, None),
    (LIMITED, PRE, None),
    (BACK, IN, ChangeKind.BACK_IN_STOCK),
    (BACK, LIMITED, ChangeKind.BACK_IN_STOCK),
    (BACK, OUT, ChangeKind.OUT_OF_STOCK),
    (BACK, PRE, None),
    (PRE, IN, ChangeKind.BACK_IN_STOCK),
    (PRE, LIMITED, ChangeKind.BACK_IN_STOCK),
    (PRE, OUT, ChangeKind.OUT_OF_STOCK),
    (PRE, BACK, None),
]


def test_the_transition_table_covers_every_pair() -> None:
    pairs = {(old, new) for old, new, _ in TRANSITIONS}
    known = [a for a in Availability if a is not Availability.UNKNOWN]
    assert pairs == {(old, new) for old in known for new in known if old is not new}


@pytest.mark.parametrize(("old", "new", "kind"), TRANSITIONS)
def test_each_availability_transition(
    old: Availability, new: Availability, kind: ChangeKind | None
) -> None:
    known = state_of(apply(None, change("m", "3", minute=1, stock=old), Position(0, 1)))
    outcome = apply(known, change("m", "3", minute=2, stock=new), Position(0, 2))
    assert state_of(outcome).stock_availability is new
    expected = () if kind is None else (NotableChange(kind, "3", "m", str(old), str(new)),)
    assert outcome.changes == expected


def test_availability_first_learned_or_left_out_is_not_a_transition() -> None:
    unknown = state_of(apply(None, change(minute=1, price="1"), Position(0, 1)))
    assert apply(unknown, change(minute=2, stock=OUT), Position(0, 2)).changes == ()
    known = state_of(apply(None, change(minute=1, stock=OUT), Position(0, 1)))
    left_out = apply(known, change(minute=2, price="3"), Position(0, 2))
    assert state_of(left_out).stock_availability is OUT
    assert left_out.changes == ()


def test_a_price_and_stock_change_together_give_both_notes_in_order() -> None:
    known = state_of(apply(None, change(minute=1, price="5", stock=OUT), Position(0, 1)))
    outcome = apply(known, change(minute=2, price="4", stock=IN), Position(0, 2))
    assert [c.kind for c in outcome.changes] == [ChangeKind.PRICE_DROP, ChangeKind.BACK_IN_STOCK]


def test_a_removal_without_time_keeps_the_items_time_so_older_retries_stay_out() -> None:
    known = state_of(apply(None, change(minute=5, price="2.00"), Position(0, 1)))
    gone = removed(known, None, Position(0, 2), KEY)  # a tombstone without headers
    assert gone.verdict is Verdict.APPLIED
    five = BASE_TIME + timedelta(minutes=5)
    assert gone.state == Removed("42", "sku-1", five, 0, 2, known.last_event_id)  # of its time
    assert gone.changes == (NotableChange(ChangeKind.ITEM_REMOVED, "42", "sku-1", "2.00", None),)
    retry: Known = gone.state
    assert apply(retry, change(minute=4, price="1.00"), Position(0, 3)).verdict is Verdict.STALE


def test_a_removed_event_removes_with_its_own_time() -> None:
    known = state_of(apply(None, change(minute=5, price="2.00"), Position(0, 1)))
    removal = change(minute=7, kind=ChangeType.REMOVED)
    gone = apply(known, removal, Position(1, 8))
    marker = Removed("42", "sku-1", removal.source_updated_at, 1, 8, str(removal.event_id))
    assert gone.state == marker
    assert apply(gone.state, change(minute=6, price="1"), Position(1, 9)).verdict is Verdict.STALE
    assert apply(gone.state, change(minute=8, price="1"), Position(1, 9)).verdict is (
        Verdict.APPLIED
    )
