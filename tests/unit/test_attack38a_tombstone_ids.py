"""Attack (stop 38, break38a): tombstones the receiver did not write, read since stop 38 with
their `event-id` header (item_fold.removed). The data team's tools delete an item by writing a
tombstone under its key, by hand or by script: with no header, with an id of their own that is
not a UUID (a ticket number), or with the headers of the key's last record copied (its event
id and source time). Each must remove the item, live as on a replay of the compacted topic,
where the tombstone is the key's only record left. No I/O.

Failed before the fix:
- a tombstone whose `event-id` is not a UUID made the record unreadable (projector dead letter):
  the live views kept serving the item, a rebuild from the compacted topic did not have it (the
  item's records were compacted away under the tombstone). Before stop 38 the header was not
  read and the tombstone removed the item. An id that is not a UUID names no event the views
  ever applied (they keep UUIDs), so it can make nothing a repeat: it is now read as no id.
- a tombstone carrying the headers of the item's last applied update was taken for a repeat of
  that update (its id is among the item's ids) and ignored: the removal was lost, the item kept
  being served (a replay of the compacted topic removed it, until the restatement the ignored
  record owes was written after it); before stop 38 it removed the item. A removal's own
  tombstone never names the item's newest applied event (a re-add's id comes first, before the
  removal's it keeps), so that id is no longer a repeat. The generated test found it too.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from catalog_contract import headers as record_headers
from catalog_contract import keys
from catalog_contract.events import ChangeType, ProductChange
from projector.batch import ItemKey, plan_batch
from projector.item_state import ItemState, Known, Removed, Verdict
from projector.records import Incoming, Unreadable, read_record
from tests.factories import BASE_TIME, change
from tests.unit.test_attack37c_retries_generated import (
    SETTINGS,
    consume,
    consume_until_quiet,
    retried,
    served,
    specs,
    written,
)

KEY = ("42", "sku-1")
RAW_KEY = keys.product_key(*KEY)


def _tombstone(offset: int, headers: list[tuple[str, bytes]]) -> Incoming:
    found = read_record(0, offset, RAW_KEY, None, headers)
    assert not isinstance(found, Unreadable), found.reason
    return found


def _live(records: list[Incoming]) -> Known:
    store: dict[ItemKey, Known] = {}
    for record in records:  # a batch each, the store between them
        plan = plan_batch([record], {0: record.offset}, store.get)
        store.update(plan.items)
    return store.get(KEY)


def _replayed(records: list[Incoming]) -> Known:
    """The compacted topic: the key's last record alone."""
    return plan_batch(records[-1:], {}, lambda _: None).items.get(KEY)


def test_a_tombstone_whose_event_id_is_not_a_uuid_removes_the_item() -> None:
    update = change(minute=5, price="1.00")
    for bad in (b"ticket-4711", b"\xff", b""):
        tombstone = _tombstone(1, [("event-id", bad)])
        assert tombstone.tombstone_event_id is None
        records = [Incoming(0, 0, *KEY, update), tombstone]
        assert isinstance(_live(records), Removed)
        assert isinstance(_replayed(records), Removed)


def test_a_tombstone_with_the_items_last_headers_copied_removes_it() -> None:
    first, update = change(minute=5, price="1.00"), change(minute=5, price="2.00")
    copied = record_headers.for_change(update)  # (what a script reading the key's last wrote)
    records = [Incoming(0, 0, *KEY, first), Incoming(0, 1, *KEY, update), _tombstone(2, copied)]
    live = _live(records)
    assert isinstance(live, Removed)
    assert live.event_ids == f"{update.event_id} {first.event_id}"  # (its retries stay out)
    assert isinstance(_replayed(records), Removed)
    retry = plan_batch([Incoming(0, 3, *KEY, update)], {0: 3}, {KEY: live}.get)
    assert retry.verdicts[Verdict.DUPLICATE] == 1


def test_a_removals_own_tombstone_after_a_re_add_of_its_time_still_stays_out() -> None:
    removal = change(minute=5, kind=ChangeType.REMOVED)
    re_add = change(minute=5, price="2.00", name="Cup")
    own = record_headers.for_change(removal)
    records = [
        Incoming(0, 0, *KEY, change(minute=5, price="1.00")),
        Incoming(0, 1, *KEY, removal),
        _tombstone(2, own),
        Incoming(0, 3, *KEY, re_add),
        Incoming(0, 4, *KEY, removal),  # the removal retried: its event, then its tombstone
        _tombstone(5, own),
    ]
    assert isinstance(_live(records), ItemState)


def _with_tools_tombstones(d: st.DataObject, records: list[Incoming]) -> list[Incoming]:
    """Up to three tools' tombstones anywhere: with no header, with a time of their own, or with
    the headers of the key's record before them copied (its event's id and time)."""
    topic = list(records)
    for _ in range(d.draw(st.integers(0, 3), label="tombstones")):
        at = d.draw(st.integers(0, len(topic)))
        kind = d.draw(st.sampled_from(["bare", "timed", "copied"]))
        before = next((r.change for r in reversed(topic[:at]) if r.change is not None), None)
        if kind == "copied" and before is not None:
            time, event_id = before.source_updated_at, str(before.event_id)
        else:
            time, event_id = (BASE_TIME + timedelta(minutes=6) if kind == "timed" else None), None
        topic.insert(at, Incoming(0, 0, *KEY, None, time, None, event_id))
    return [dataclasses.replace(r, offset=n) for n, r in enumerate(topic)]


@SETTINGS
@given(specs([5, 6, None], ["updated"] * 3 + ["removed"]), st.data())
def test_tools_tombstones_are_removals_live_as_replayed(
    events: list[ProductChange], d: st.DataObject
) -> None:
    """A tool's tombstone not older than the item removes it; and whatever the topic, the
    compacted topic (restatements written) replays to the live views."""
    topic = _with_tools_tombstones(d, written(retried(d, events)))
    removals = {str(e.event_id) for e in events if e.change_type is ChangeType.REMOVED}
    before: dict[ItemKey, Known] = {}
    consume(topic[:-1], [], before)
    store: dict[ItemKey, Known] = {}
    owed: list[Incoming] = []
    applied = consume(topic, d.draw(st.lists(st.integers(0, len(topic)))), store, 0, owed)
    last, item = topic[-1], before.get(KEY)
    if last.change is None and last.tombstone_event_id not in removals:  # a tool's, last
        at = last.tombstone_source_updated_at
        if isinstance(item, ItemState) and (at is None or at >= (item.source_updated_at or at)):
            assert isinstance(store.get(KEY), Removed)
    consume_until_quiet(topic, store, applied, owed)
    replayed = plan_batch(topic[-1:], {}, lambda _: None).items.get(KEY)
    assert served(replayed, revision=False) == served(store.get(KEY), revision=False)
