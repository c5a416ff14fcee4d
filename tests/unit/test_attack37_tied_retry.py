"""Attack (stop 37): a retried postback landing after a *different* postback of the same
`DateLastUpdated` (or of none). README: "a retried postback carries the same id and the
projector applies it once". The fold recognises a repeat only of the item's last applied event
(`last_event_id`); a tie in source time goes to the later offset, so the retry of A, written
after B, wins the tie and is applied a second time: the item shows A's price again, although
the platform sent B after A, and its revision counts A twice.

Found, not fixed: it needs the views to remember every event id applied at the item's current
source time (a new column of the items, carried by restatements, rebuilds and both stores), and
a decision, since ids are derived from the content: a genuine change back to A's values within
the same DateLastUpdated has A's id, and would then be taken for a retry. So these are strict
xfails: they fail the run as soon as a fix makes them pass. No I/O.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from projector.batch import plan_batch
from projector.item_state import ItemState
from projector.records import Incoming
from tests.factories import change

KEY = ("42", "sku-1")


@pytest.mark.xfail(strict=True, reason="a tied retry is applied again (found at stop 37)")
@pytest.mark.parametrize("minute", [5, None], ids=["same time", "no time"])
def test_a_retry_after_another_postback_of_the_same_time_is_applied_once(
    minute: int | None,
) -> None:
    first = change(minute=minute, price="3.00", name="Mug")
    second = change(minute=minute, price="4.00", name="Mug")
    assert first.event_id != second.event_id
    # A's write landed late: the platform got a 503, sent B, then retried A (same event id).
    records = [
        Incoming(0, offset, *KEY, event) for offset, event in enumerate([first, second, first])
    ]
    state = plan_batch(records, {}, lambda _: None).items[KEY]
    assert isinstance(state, ItemState)
    assert (state.current_price, state.revision) == (Decimal("4.0000"), 2)
