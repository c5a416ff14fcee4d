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
"""

from __future__ import annotations

from catalog_contract import headers as record_headers
from catalog_contract import keys
from catalog_contract.events import ChangeType
from projector.batch import ItemKey, plan_batch
from projector.item_state import ItemState, Known, Removed
from projector.records import Incoming, Unreadable, read_record
from tests.factories import change

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
