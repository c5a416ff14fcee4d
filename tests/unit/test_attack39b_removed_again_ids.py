"""Attack (stop 39, break39): the marker an untimed removal written again leaves (b810673).

An untimed removal written again after a re-add (issue 9, defect 2) removes the item again, but
the marker it left kept only the re-added item's newest id: the other ids the item kept of its
time were forgotten, where any other removal of that time keeps them all (README: "a retry of
any of them after the removal is a duplicate"). So a retry of the item's first postback (its 200
lost, the platform went on: removal, re-add, the removal again, then the retry) brought the
item back with the old fields, though its tie with the marker's time keeps such a retry out
after an ordinary removal (test_attack37c_retries_generated.test_a_retry_tying_a_removal_stays_
out). Failed before the fix: the marker's ids were `r a` (not `r a x`), and the retry was
APPLIED (an ItemState at price 1.00, timed or not). Now the marker drops only the removal's own
id from the item's ids.

Generated (the topics of test_attack37c_retries_generated: postbacks of a few times, some
untimed, removals, retries anywhere after their first write): whatever the item applied, an
untimed removal it keeps the id of, written again, leaves the marker and notable changes a new
untimed removal would, its id first and the others the same. Failed before (500 examples: the
first topic where the re-added item kept an earlier id of its time).
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import ChangeType, ProductChange
from projector.item_fold import apply
from projector.item_state import ItemState, Known, Position, Removed, Verdict
from tests.factories import change
from tests.unit.test_attack37c_retries_generated import SETTINGS, retried, specs


@pytest.mark.parametrize("minute", [None, 5], ids=["untimed first", "timed first"])
def test_a_retry_of_the_first_postback_after_the_removal_written_again_stays_out(
    minute: int | None,
) -> None:
    first = change("lamp-2", "9", minute=minute, price="1.00", name="Desk lamp")
    removal = change("lamp-2", "9", minute=None, kind=ChangeType.REMOVED)
    re_add = change("lamp-2", "9", minute=None, price="49.90")
    state = None
    for n, event in enumerate([first, removal, re_add, removal]):
        state = apply(state, event, Position(0, n)).state
    assert isinstance(state, Removed)
    ids = [str(e.event_id) for e in (removal, re_add, first)]
    assert state.event_ids == " ".join(ids)  # every id of its time, as any removal's marker
    retry = apply(state, first, Position(0, 4))
    assert (retry.verdict, retry.state) == (Verdict.DUPLICATE, state)
    assert not isinstance(retry.state, ItemState)


@SETTINGS
@given(specs([None, None, 5, 6], ["updated"] * 2 + ["removed"] * 2), st.data())
def test_a_removal_written_again_leaves_what_a_new_one_would(
    events: list[ProductChange], d: st.DataObject
) -> None:
    state: Known = None
    for n, event in enumerate(retried(d, events)):
        state = apply(state, event, Position(0, n)).state
    if not isinstance(state, ItemState):
        return
    kept = state.last_event_id.split()
    untimed = (e for e in events if e.change_type is ChangeType.REMOVED and not e.source_updated_at)
    for removal in (e for e in untimed if str(e.event_id) in kept):  # (written again)
        new = dataclasses.replace(removal, event_id=uuid.uuid5(removal.event_id, "new"))
        outcome, fresh = apply(state, removal, Position(0, 99)), apply(state, new, Position(0, 99))
        assert (outcome.verdict, fresh.verdict) == (Verdict.APPLIED, Verdict.APPLIED)
        assert isinstance(outcome.state, Removed)
        assert isinstance(fresh.state, Removed)
        ids, fresh_ids = outcome.state.event_ids.split(), fresh.state.event_ids.split()
        assert (ids[0], fresh_ids[0]) == (str(removal.event_id), str(new.event_id))
        assert ids[1:] == [i for i in fresh_ids[1:] if i != ids[0]]
        same = dataclasses.replace(outcome.state, event_ids=fresh.state.event_ids)
        assert (same, outcome.changes) == (fresh.state, fresh.changes)
