"""Attack (stop 38): the ids a removal marker keeps (item_state.Removed.event_ids), rule by rule,
with exact values; its row, and the statements that bring an older store's tables to it. No I/O.

Failed before: a marker kept no ids (stop 37's design limit), so a retry tying a removal's time
(or the time an untimed removal keeps) won its tie and re-added the item, and a removal's retry
after a re-add of its time removed it again (its tombstone too: it carried no id the fold read).
The generated invariants are in test_attack37c_retries_generated.py.
"""

from __future__ import annotations

from catalog_contract.events import ChangeType
from projector.item_fold import apply, removed
from projector.item_state import ItemState, Position, Removed, Verdict
from projector.rows import ITEM_COLUMNS, REMOVAL_COLUMNS, micros, removal_from_row, removal_row
from projector.store_schema import added_columns
from tests.factories import BASE_TIME, change

KEY = ("42", "sku-1")


def _item(minute: int | None) -> ItemState:
    state = apply(None, change(minute=minute, price="1.00"), Position(0, 1)).state
    assert isinstance(state, ItemState)
    return state


def test_a_removal_keeping_the_items_time_keeps_its_ids_after_its_own() -> None:
    item = _item(5)
    for minute in (5, None):  # the same time, or none (it keeps the item's)
        removal = change(minute=minute, kind=ChangeType.REMOVED)
        gone = apply(item, removal, Position(0, 2)).state
        assert gone == Removed(*KEY, item.source_updated_at, 0, 2,
                               f"{removal.event_id} {item.last_event_id}")  # fmt: skip
    later = change(minute=6, kind=ChangeType.REMOVED)
    assert apply(item, later, Position(0, 2)).state == Removed(
        *KEY, later.source_updated_at, 0, 2, str(later.event_id)
    )


def test_a_retry_of_an_id_the_marker_keeps_is_a_duplicate() -> None:
    first = change(minute=5, price="1.00")
    item = apply(None, first, Position(0, 1)).state
    gone = apply(item, change(minute=5, kind=ChangeType.REMOVED), Position(0, 2)).state
    retry = apply(gone, first, Position(0, 3))
    assert (retry.verdict, retry.state) == (Verdict.DUPLICATE, gone)


def test_a_removal_of_the_markers_time_is_a_copy_whose_id_is_kept_after_the_removals() -> None:
    removal = change(minute=5, kind=ChangeType.REMOVED)
    gone = removed(None, removal.source_updated_at, Position(0, 1), KEY, None, "r")
    assert gone.state == Removed(*KEY, removal.source_updated_at, 0, 1, "r")
    for second in (removal.source_updated_at, None):
        copy = removed(gone.state, second, Position(0, 3), KEY, None, "c")
        assert (copy.verdict, copy.state) == (
            Verdict.DUPLICATE,
            Removed(*KEY, removal.source_updated_at, 0, 1, "r c"),
        )  # (its position moves in the batch: batch._judged_up_to)
    older = removed(gone.state, BASE_TIME, Position(0, 3), KEY, None, "o")
    assert (older.verdict, older.state) == (Verdict.DUPLICATE, gone.state)  # (nothing kept)
    its_tombstone = removed(gone.state, removal.source_updated_at, Position(0, 2), KEY, None, "r")
    assert (its_tombstone.verdict, its_tombstone.state) == (Verdict.DUPLICATE, gone.state)


def test_a_re_add_of_the_removals_time_keeps_its_ids_so_its_retry_and_tombstone_stay_out() -> None:
    marker = Removed(*KEY, BASE_TIME, 0, 2, "r i")
    for minute in (0, None):  # (BASE_TIME, or none: it keeps the marker's)
        re_add = change(minute=minute, price="2.00", name="Cup")
        back = apply(marker, re_add, Position(0, 3)).state
        assert isinstance(back, ItemState)
        assert back.last_event_id == f"{re_add.event_id} r i"
        assert back.revision == 1  # (a new item all the same)
        tombstone = removed(back, BASE_TIME, Position(0, 5), KEY, None, "r")
        assert (tombstone.verdict, tombstone.state) == (Verdict.DUPLICATE, back)
    newer = apply(marker, change(minute=1, price="2.00"), Position(0, 3)).state
    assert isinstance(newer, ItemState)
    assert " " not in newer.last_event_id  # (of another time: its own id alone)


def test_a_restated_tombstone_keeps_the_ids_of_its_time() -> None:
    marker = Removed(*KEY, BASE_TIME, 0, 2, "r i")
    again = removed(marker, BASE_TIME, Position(0, 9), KEY, Position(0, 2))
    assert (again.verdict, again.state) == (Verdict.DUPLICATE, marker)
    item = _item(0)
    over_item = removed(item, BASE_TIME, Position(0, 9), KEY, Position(0, 4)).state
    assert over_item == Removed(*KEY, BASE_TIME, 0, 4, item.last_event_id)
    over_nothing = removed(None, BASE_TIME, Position(0, 9), KEY, Position(0, 4)).state
    assert over_nothing == Removed(*KEY, BASE_TIME, 0, 4, "")  # (a compacted replay: none)


def test_a_marker_goes_through_its_row_with_its_ids() -> None:
    marker = Removed(*KEY, BASE_TIME, 1, 7, "r i")
    assert removal_row(marker) == ("42", "sku-1", micros(BASE_TIME), 1, 7, "r i")
    assert removal_from_row(removal_row(marker)) == marker
    assert REMOVAL_COLUMNS[-1] == "event_ids"  # (added last, as ALTER TABLE adds it)


def test_an_older_stores_tables_get_the_columns_added_since() -> None:
    items, old_removals = set(ITEM_COLUMNS), set(REMOVAL_COLUMNS[:-1])
    assert added_columns(items, old_removals, "BIGINT") == [
        "ALTER TABLE removals ADD COLUMN event_ids TEXT NOT NULL DEFAULT ''"
    ]
    assert added_columns(items - {"shipping_cost"}, set(REMOVAL_COLUMNS), "BIGINT") == [
        'ALTER TABLE items ADD COLUMN "shipping_cost" BIGINT'
    ]
    assert added_columns(items, set(REMOVAL_COLUMNS), "BIGINT") == []
