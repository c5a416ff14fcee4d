"""Attack (stop 37): an item removed, re-added by a postback without DateLastUpdated, then an
older postback retried late. README: a removal's marker keeps an older postback retried after it
out, and a postback without DateLastUpdated "is applied and keeps the item's time". The re-add
dropped the marker's time (the item started again with none), so the old retry, stale a record
earlier, was applied over the re-added item and undid its newer fields (price 6 back to 5, a
false price_drop in the feed). Now the re-added item keeps the removal's time. No I/O.
"""

from __future__ import annotations

from decimal import Decimal

from catalog_contract.events import ChangeType
from projector.batch import plan_batch
from projector.item_state import ItemState, Verdict
from projector.records import Incoming
from tests.factories import change

KEY = ("42", "sku-1")


def test_an_old_retry_after_an_untimed_re_add_stays_stale() -> None:
    old = change(minute=1, price="5.00", name="Mug")
    events = [
        old,
        change(minute=5, kind=ChangeType.REMOVED),
        change(minute=None, price="6.00", name="Cup"),  # re-added, no DateLastUpdated
        old,  # its 200 was lost: retried late
    ]
    records = [Incoming(0, offset, *KEY, event) for offset, event in enumerate(events)]
    plan = plan_batch(records, {}, lambda _: None)
    state = plan.items[KEY]
    assert isinstance(state, ItemState)
    assert (state.current_price, state.name, state.revision) == (Decimal("6.0000"), "Cup", 1)
    assert state.source_updated_at == change(minute=5).source_updated_at  # the removal's
    assert plan.verdicts[Verdict.STALE] == 1
    assert [(f.change.kind.value, f.change.new) for f in plan.feed] == [
        ("item_added", "5.00"),
        ("item_removed", None),
        ("item_added", "6.00"),
    ]
