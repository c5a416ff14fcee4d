"""A split rebuild's part (rebuild_part_store.PartStore) reads back only the keys it wrote, and
answers every read back as its file does: batches planned on its answers leave the same rows as
batches planned on a plain store's, whatever the keys' records in between, removals and
re-additions, partial postbacks merging onto earlier states, a filter so small that nearly every
answer is "maybe", filters stepping aside after a few keys asked (key_filter.PayingKeyFilter),
and failed writes. SQLite files, no broker."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract.events import Availability, ChangeType
from projector.batch import BatchPlan, ItemKey, plan_batch
from projector.errors import PositionConflict
from projector.item_state import Known
from projector.key_filter import WINDOW
from projector.rebuild_part_store import PartStore
from projector.records import Incoming
from projector.sqlite_store import SqliteStore
from tests.factories import change

TOPIC = "t"
KEYS = [("k", "a"), ("k", "b"), ("f", "a"), ("f", "c")]


def _record(offset: int, key: ItemKey, kind: str, minute: int | None) -> Incoming:
    catalog, item = key
    if kind == "tombstone":
        return Incoming(0, offset, catalog, item, None)
    if kind == "removed":
        return Incoming(0, offset, catalog, item, change(item, catalog, kind=ChangeType.REMOVED,
                                                         minute=minute))  # fmt: skip
    values: dict[str, Any] = {"price": f"{offset % 3 + 1}.00", "name": f"n{offset}",
                              "stock": Availability.IN_STOCK}  # fmt: skip
    if kind != "full":
        values = {kind: values[kind]}
    return Incoming(0, offset, catalog, item, change(item, catalog, minute=minute, **values))


def _apply(store: SqliteStore, records: list[Incoming]) -> BatchPlan:
    """One batch as the consumer loop plans and writes it (consumer_planning: read back, fold)."""
    known = store.load_items({(r.catalog_id, r.item_id) for r in records})
    plan = plan_batch(records, store.positions(TOPIC), known.get)
    store.write(TOPIC, plan)
    return plan


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    plain = SqliteStore(path)
    try:
        return {
            table: plain._query(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608
            for table in ("items", "removals", "catalogs", "offsets")
        }
    finally:
        plain.close()


def _created(path: Path) -> Path:
    store = SqliteStore(path)
    store.create(False)
    store.close()
    return path


records = st.lists(
    st.tuples(
        st.sampled_from(KEYS),
        st.sampled_from(["full", "price", "name", "stock", "removed", "tombstone"]),
        st.one_of(st.none(), st.integers(1, 6)),
    ),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=records,
    cuts=st.lists(st.integers(1, 6), min_size=1),
    bits_log2=st.sampled_from([3, 24]),
    window=st.sampled_from([1, 4, WINDOW]),
)
def test_a_part_builds_what_a_store_reading_everything_back_builds(
    tmp_path_factory: pytest.TempPathFactory,
    history: list[tuple[ItemKey, str, int | None]],
    cuts: list[int],
    bits_log2: int,
    window: int,
) -> None:
    work = tmp_path_factory.mktemp("part")
    part = PartStore(_created(work / "part.db"), bits_log2, window)
    plain = SqliteStore(_created(work / "plain.db"))
    incoming = [_record(n, *r) for n, r in enumerate(history)]
    try:
        start = 0
        for size in itertools.cycle(cuts):  # batches of these sizes, in turn
            if start >= len(incoming):
                break
            batch, start = incoming[start : start + size], start + size
            for store in (part, plain):
                _apply(store, batch)
            assert part.load_items(KEYS) == plain.load_items(KEYS)
    finally:
        part.close()
        plain.close()
    assert _tables(work / "part.db")["items"] == _tables(work / "plain.db")["items"]
    assert _tables(work / "part.db")["removals"] == _tables(work / "plain.db")["removals"]


def test_a_part_asks_its_file_only_for_keys_it_wrote(tmp_path: Path) -> None:
    path = _created(tmp_path / "part.db")
    part = PartStore(path)
    try:
        _apply(part, [_record(0, ("k", "a"), "full", 1), _record(1, ("k", "b"), "removed", 1)])
        other = SqliteStore(path)  # rows the part never wrote (no worker does that): not asked
        with other._transaction() as cursor:
            cursor.execute("INSERT INTO items (catalog_id, item_id) VALUES ('k', 'x')")
            cursor.execute("INSERT INTO removals VALUES ('k', 'y', 1, 0, 9, '')")
        assert set(other.load_items([("k", "x"), ("k", "y")])) == {("k", "x"), ("k", "y")}
        other.close()
        found = part.load_items([("k", "a"), ("k", "b"), ("k", "x"), ("k", "y")])
        assert sorted(found) == [("k", "a"), ("k", "b")]
        assert found[("k", "a")].name == "n0"  # type: ignore[union-attr]
    finally:
        part.close()


def test_a_part_whose_keys_come_back_reads_every_key_back(tmp_path: Path) -> None:
    path = _created(tmp_path / "part.db")
    part = PartStore(path, window=8)
    try:
        _apply(part, [_record(0, ("k", "a"), "full", 1)])  # asked, "never written": spared
        for offset in range(1, 8):  # asked, written: not spared; 1 spared of 8, the filter goes
            _apply(part, [_record(offset, ("k", "a"), "price", offset + 1)])
        other = SqliteStore(path)  # a row the part never wrote: read back now, as a plain store
        with other._transaction() as cursor:
            cursor.execute("INSERT INTO items (catalog_id, item_id) VALUES ('k', 'x')")
        other.close()
        _apply(part, [_record(8, ("k", "b"), "full", 1)])  # written with the filter aside
        found = part.load_items([("k", "a"), ("k", "b"), ("k", "x"), ("k", "y")])
        assert sorted(found) == [("k", "a"), ("k", "b"), ("k", "x")]
        assert str(found[("k", "a")].current_price) == "2.0000"  # type: ignore[union-attr]
    finally:
        part.close()


def test_a_part_opened_on_a_file_with_rows_reads_them_back(tmp_path: Path) -> None:
    path = _created(tmp_path / "part.db")
    _apply(
        SqliteStore(path), [_record(0, ("k", "a"), "full", 1), _record(1, ("k", "b"), "removed", 1)]
    )
    part = PartStore(path)
    try:
        assert sorted(part.load_items(KEYS)) == [("k", "a"), ("k", "b")]
    finally:
        part.close()


def test_a_failed_write_leaves_nothing_unread(tmp_path: Path) -> None:
    path = _created(tmp_path / "part.db")
    part = PartStore(path)
    try:
        first = [_record(0, ("k", "a"), "full", 1)]
        ahead = [_record(5, ("k", "a"), "full", 1)]
        plan = plan_batch(ahead, {0: 5}, lambda key: None)  # planned from 5, the file is at 0
        with pytest.raises(PositionConflict):
            part.write(TOPIC, plan)
        assert part.load_items(KEYS) == {}
        _apply(part, first)  # written again, planned where the file is
        _apply(part, [_record(1, ("k", "a"), "price", 2)])  # merged onto the stored state
        [state] = part.load_items(KEYS).values()
        assert (state.name, str(state.current_price)) == ("n0", "2.0000")  # type: ignore[union-attr]
    finally:
        part.close()


def _planned_on(store: SqliteStore, records: list[Incoming], after: BatchPlan | None) -> BatchPlan:
    """A batch planned as the consumer plans it while the batch before is still unwritten
    (consumer_planning: that batch's items known from its plan, the others read back)."""
    keys = {(r.catalog_id, r.item_id) for r in records}
    applied = store.positions(TOPIC)
    if after is not None:
        keys -= after.before.keys()
        applied = {**applied, **after.next_offsets}
    known: dict[ItemKey, Known] = dict(store.load_items(keys))
    if after is not None:
        known.update(after.before)
        known.update(after.items)
    return plan_batch(records, applied, known.get)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=records,
    cuts=st.lists(st.integers(1, 6), min_size=1),
    bits_log2=st.sampled_from([3, 24]),
    window=st.sampled_from([1, 4, WINDOW]),
)
def test_a_part_planning_on_the_batch_before_builds_what_a_plain_store_builds(
    tmp_path_factory: pytest.TempPathFactory,
    history: list[tuple[ItemKey, str, int | None]],
    cuts: list[int],
    bits_log2: int,
    window: int,
) -> None:
    """Each batch planned on the one before, not yet written: a key known from that plan is
    not read back, and a part notes only keys with no item row before their batch."""
    work = tmp_path_factory.mktemp("part")
    part = PartStore(_created(work / "part.db"), bits_log2, window)
    plain = SqliteStore(_created(work / "plain.db"))
    incoming = [_record(n, *r) for n, r in enumerate(history)]
    try:
        for store in (part, plain):
            before: BatchPlan | None = None
            start = 0
            for size in itertools.cycle(cuts):
                if start >= len(incoming):
                    break
                batch, start = incoming[start : start + size], start + size
                plan = _planned_on(store, batch, before)
                if before is not None:
                    store.write(TOPIC, before)
                before = plan
            if before is not None:
                store.write(TOPIC, before)
        assert part.load_items(KEYS) == plain.load_items(KEYS)
    finally:
        part.close()
        plain.close()
    assert _tables(work / "part.db")["items"] == _tables(work / "plain.db")["items"]
    assert _tables(work / "part.db")["removals"] == _tables(work / "plain.db")["removals"]
