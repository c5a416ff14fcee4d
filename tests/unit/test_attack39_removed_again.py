"""Attack (stop 39): the same untimed removal written again after a re-add (issue 9, defect 2).

The platform removed an item, re-added it, then sent the same removal body again, without a
DateLastUpdated: its content (so its event id) is the first removal's. The receiver writes it
again (something newer of the product was written since: test_receiver.py), acknowledges its
new position, and the views must follow: the item is removed. Stop 38 made a re-add keep its
removal's id (so a tied retry stays out), and the fold took the removal for a repeat: the item
stayed live at the acknowledged position (CI, stop 38: `assert 200 == 404` in
test_a_repeat_after_a_newer_change_of_the_product_is_written_again). Failed before the fix:
the verdict below was DUPLICATE. A timed removal of the re-add's time is still a retry (the
platform's second removal would carry a later time); its tombstone is a repeat either way.
"""

from __future__ import annotations

from catalog_contract.events import ChangeType
from projector.batch import plan_batch
from projector.item_fold import apply, removed
from projector.item_state import ItemState, Position, Removed, Verdict
from projector.records import Incoming
from tests.factories import change

KEY = ("9", "lamp-2")


def test_an_untimed_removal_written_again_after_a_re_add_removes_the_item() -> None:
    removal = change("lamp-2", "9", minute=None, kind=ChangeType.REMOVED)
    re_add = change("lamp-2", "9", minute=None, price="49.90", name="Desk lamp")
    marker = apply(None, removal, Position(0, 0)).state
    back = apply(marker, re_add, Position(0, 2)).state
    assert isinstance(back, ItemState)
    again = apply(back, removal, Position(0, 3))
    assert again.verdict is Verdict.APPLIED
    assert again.state == Removed(*KEY, None, 0, 3, f"{removal.event_id} {re_add.event_id}")
    assert [n.kind.value for n in again.changes] == ["item_removed"]
    its_tombstone = removed(again.state, None, Position(0, 4), KEY, None, str(removal.event_id))
    assert (its_tombstone.verdict, its_tombstone.state) == (Verdict.DUPLICATE, again.state)


def test_as_the_receiver_writes_them_the_item_ends_removed() -> None:
    removal = change("lamp-2", "9", minute=None, kind=ChangeType.REMOVED)
    re_add = change("lamp-2", "9", minute=None, price="49.90")
    tombstone = (None, None, None, str(removal.event_id))
    values = [removal, tombstone, re_add, removal, tombstone]
    records = [
        Incoming(0, n, *KEY, *(v if isinstance(v, tuple) else (v,))) for n, v in enumerate(values)
    ]
    ended = plan_batch(records, {}, lambda _: None).items[KEY]
    assert isinstance(ended, Removed)
    assert ended.offset == 4  # (the tombstone moves the marker's position)


def test_a_timed_removal_tying_the_re_add_stays_a_retry() -> None:
    removal = change(minute=5, kind=ChangeType.REMOVED)
    marker = apply(None, removal, Position(0, 0)).state
    back = apply(marker, change(minute=5, price="2.00"), Position(0, 2)).state
    assert isinstance(back, ItemState)
    again = apply(back, removal, Position(0, 3))
    assert (again.verdict, again.state) == (Verdict.DUPLICATE, back)
