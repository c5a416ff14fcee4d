"""Attack (stop 38): a removal marker's ids through the view stores (SQLite and PostgreSQL),
and a store whose `removals` table was created before they were kept.

Failed before: `removals` had no column for them (a marker kept none), so a retry tying a
removal's time, written in a later batch, re-added the item; and create() added no column to an
older store's table (its markers read back with none, '', and new ones are written with theirs).
"""

from __future__ import annotations

import dataclasses

from catalog_contract.events import ChangeType, ProductChange
from projector.batch import plan_batch
from projector.item_state import ItemState, Known, Removed
from projector.records import Incoming
from projector.store import ViewStore
from tests.factories import change

KEY = ("42", "sku-1")

# `removals` as every version before stop 38 created it (store_schema.py then).
_OLD_REMOVALS = (
    "CREATE TABLE removals (catalog_id TEXT NOT NULL, item_id TEXT NOT NULL, "
    'source_updated_at {big}, "partition" INTEGER NOT NULL, "offset" {big} NOT NULL, '
    "PRIMARY KEY (catalog_id, item_id))"
)


def _write(store: ViewStore, event: ProductChange) -> Known:
    """`event` in a batch of its own (with its tombstone, a removal), read back after."""
    at = store.positions("t").get(0, 0)
    records = [Incoming(0, at, *KEY, event)]
    if event.change_type is ChangeType.REMOVED:
        records.append(Incoming(0, at + 1, *KEY, None, event.source_updated_at, None,
                                str(event.event_id)))  # fmt: skip
    store.write("t", plan_batch(records, {0: at}, lambda key: store.load_items([key]).get(key)))
    return store.load_items([KEY]).get(KEY)


def test_an_older_stores_markers_read_with_no_ids_and_new_ones_keep_theirs(
    store: ViewStore,
) -> None:
    store.create()
    with store._transaction() as cursor:  # make it look like a store from before stop 38
        cursor.execute("DROP TABLE removals")
        cursor.execute(_OLD_REMOVALS.format(big=store.big_integer))
        cursor.execute(
            store._sql("INSERT INTO removals VALUES (?, ?, ?, ?, ?)"), ["42", "old", None, 0, 3]
        )
    store.create()
    store.create()  # (a second start adds nothing)
    assert store.load_items([("42", "old")]) == {("42", "old"): Removed("42", "old", None, 0, 3)}
    first = change(minute=5, price="1.00", name="Mug")
    removal = change(minute=None, kind=ChangeType.REMOVED)  # (keeps first's time)
    _write(store, first)
    gone = _write(store, removal)
    assert gone == Removed(
        *KEY, first.source_updated_at, 0, 2, f"{removal.event_id} {first.event_id}"
    )
    assert _write(store, first) == Removed(*KEY, first.source_updated_at, 0, 3, gone.event_ids)


def test_a_removals_retry_after_a_re_add_of_its_time_stays_out_across_batches(
    store: ViewStore,
) -> None:
    store.create()
    removal = change(minute=5, kind=ChangeType.REMOVED)
    re_add = change(minute=5, price="2.00", name="Cup")
    _write(store, change(minute=5, price="1.00"))
    _write(store, removal)
    back = _write(store, re_add)
    assert isinstance(back, ItemState)
    assert back.last_event_id.split()[:2] == [str(re_add.event_id), str(removal.event_id)]
    after = _write(store, removal)  # its 200 lost: retried (the event, then its tombstone)
    assert after == dataclasses.replace(back, offset=5)  # (judged up to the tombstone)
