"""The view stores themselves, against SQLite and PostgreSQL alike."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from catalog_contract.events import ChangeType
from projector.batch import BatchPlan, ItemKey, plan_batch
from projector.errors import PositionConflict, StoreUnavailable
from projector.generations_postgres import PostgresGenerations
from projector.item_state import ItemState
from projector.postgres_store import PostgresStore
from projector.records import Incoming
from projector.rows import ITEM_COLUMNS
from projector.store import ViewStore
from projector.store_reads import ItemFilter
from projector.store_write import BatchWrite
from tests.factories import change
from tests.postgres import LocalPostgres


def stored(store: ViewStore, key: ItemKey) -> ItemState:
    found = store.load_items([key]).get(key)
    assert isinstance(found, ItemState), found
    return found


def test_a_failed_read_leaves_the_connection_usable(store: ViewStore) -> None:
    with pytest.raises(StoreUnavailable):
        store.positions("t")  # no tables yet
    store.create()
    assert store.positions("t") == {}


def test_a_batch_planned_on_old_positions_is_not_written(store: ViewStore) -> None:
    store.create()
    event = change("x", price="1")
    record = Incoming(0, 0, event.catalog_id, event.catalog_item_id, event)
    store.write("t", plan_batch([record], {}, lambda key: store.load_items([key]).get(key)))
    assert store.positions("t") == {0: 1}
    # Another instance planned the same record from offset 0 before this one wrote it.
    stale_plan = plan_batch([record], {}, lambda key: None)
    with pytest.raises(PositionConflict):
        store.write("t", stale_plan)
    assert store.positions("t") == {0: 1}
    assert stored(store, ("42", "x")).revision == 1


def test_an_item_added_removed_and_re_added_is_in_one_table_at_a_time(store: ViewStore) -> None:
    """The write deletes a stored row or removal marker only where the plan read one; across
    batches the item must still be in exactly one of the tables, and the catalog count right."""
    store.create()
    events = [
        change("x", minute=1, price="1"),
        change("x", minute=2, kind=ChangeType.REMOVED),
        change("x", minute=3, price="2"),
        change("x", minute=4, kind=ChangeType.REMOVED),
        change("x", minute=5, price="3"),
    ]
    where = ("42", "x")
    for offset, event in enumerate(events):
        record = Incoming(0, offset, event.catalog_id, event.catalog_item_id, event)
        keys = store.load_items([where])
        store.write("t", plan_batch([record], store.positions("t"), keys.get))
        in_items = store._query("SELECT COUNT(*) FROM items WHERE item_id = 'x'")[0][0]
        in_removals = store._query("SELECT COUNT(*) FROM removals WHERE item_id = 'x'")[0][0]
        assert (in_items, in_removals) == ((1, 0) if offset % 2 == 0 else (0, 1))
        counted = [c["item_count"] for c in store.catalogs("42")]
        assert counted == ([1] if offset % 2 == 0 else [])
    assert stored(store, where).current_price == Decimal("3.0000")


def test_a_catalog_emptied_by_a_batch_goes_and_the_others_stay(store: ViewStore) -> None:
    """Empty catalogs are dropped by key (only those a batch counted): one emptied across
    batches, one whose only item came and went within a batch, and a busy one beside them."""
    store.create()

    def write(events: list[Any]) -> None:
        positions = store.positions("t")
        start = positions.get(0, 0)
        records = [
            Incoming(0, start + i, e.catalog_id, e.catalog_item_id, e) for i, e in enumerate(events)
        ]
        keys = store.load_items([(e.catalog_id, e.catalog_item_id) for e in events])
        store.write("t", plan_batch(records, positions, keys.get))

    write([change("a", catalog="1", minute=1), change("b", catalog="2", minute=1)])
    assert sorted(c["catalog_id"] for c in store.catalogs()) == ["1", "2"]
    write([
        change("a", catalog="1", minute=2, kind=ChangeType.REMOVED),
        change("c", catalog="3", minute=2),
        change("c", catalog="3", minute=3, kind=ChangeType.REMOVED),
    ])  # fmt: skip
    assert [(c["catalog_id"], c["item_count"]) for c in store.catalogs()] == [("2", 1)]


def test_a_rebuilds_store_gets_the_read_indexes_after_its_load(store: ViewStore) -> None:
    def indexes() -> set[str]:
        if isinstance(store, PostgresStore):
            rows = store._query("SELECT indexname FROM pg_indexes WHERE tablename = 'items'")
        else:
            rows = store._query("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {str(r[0]) for r in rows} & {"items_by_price", "items_by_stock_in_order"}

    store.create(indexes=False)
    event = change("x", price="1")
    record = Incoming(0, 0, event.catalog_id, event.catalog_item_id, event)
    store.write("t", plan_batch([record], {}, lambda key: None))
    assert indexes() == set()
    store.create()
    assert indexes() == {"items_by_price", "items_by_stock_in_order"}
    assert stored(store, ("42", "x")).current_price == Decimal("1.0000")


def test_create_adds_the_columns_a_newer_schema_brought(store: ViewStore) -> None:
    store.create()
    with store._transaction() as cursor:  # make it look like a store from schema v1's time
        cursor.execute('ALTER TABLE items DROP COLUMN "shipping_cost"')
        cursor.execute('ALTER TABLE items DROP COLUMN "sale_ends_at"')
    store.create()
    event = change("x", price="1", shipping_cost=Decimal("2.5000"))
    record = Incoming(0, 0, event.catalog_id, event.catalog_item_id, event)
    store.write("t", plan_batch([record], {}, lambda key: store.load_items([key]).get(key)))
    assert stored(store, ("42", "x")).shipping_cost == Decimal("2.5000")


def test_instances_starting_together_on_a_fresh_postgres_database_all_start(
    postgres: LocalPostgres,
) -> None:
    # Each instance creates the generation pointer and the views' tables if missing; unserialised,
    # PostgreSQL failed one of two instances started at once on a fresh database.
    generations = PostgresGenerations(postgres.create_database(f"race_{uuid.uuid4().hex[:10]}"))
    start = threading.Barrier(8)

    def one_instance() -> str:
        start.wait()
        store = generations.open_active()
        try:
            store.create()
            return store.schema if isinstance(store, PostgresStore) else ""
        finally:
            store.close()

    with ThreadPoolExecutor(8) as pool:
        schemas = list(pool.map(lambda _: one_instance(), range(8)))
    assert schemas == ["views"] * 8


class _PausingStore(PostgresStore):
    """Pauses each write after its position check, until the other instance got as far (or a
    while passed): the moment two instances overlap during a rebalance."""

    def __init__(self, url: str, checked: threading.Barrier) -> None:
        super().__init__(url)
        self._batch_write = _PausingWrite(self._sql, self.lock_rows, checked)


class _PausingWrite(BatchWrite):
    def __init__(self, sql: Callable[[str], str], lock_rows: str, checked: threading.Barrier):
        super().__init__(sql, lock_rows)
        self.checked = checked

    def check_positions(self, cursor: Any, topic: str, plan: BatchPlan) -> None:
        super().check_positions(cursor, topic, plan)
        with contextlib.suppress(threading.BrokenBarrierError):
            self.checked.wait(timeout=3)


def test_two_instances_cannot_both_apply_a_partitions_first_batch(
    postgres: LocalPostgres,
) -> None:
    # Defect 3: with no offsets row yet, SELECT ... FOR UPDATE locked nothing, so both passed.
    url = postgres.create_database(f"first_{uuid.uuid4().hex[:10]}")
    checked = threading.Barrier(2)
    stores = [_PausingStore(url, checked) for _ in range(2)]
    stores[0].create()
    event = change("x", price="1")
    record = Incoming(0, 0, event.catalog_id, event.catalog_item_id, event)

    def one_instance(store: ViewStore) -> str:
        try:
            store.write("t", plan_batch([record], {}, lambda key: None))
        except PositionConflict:
            return "conflict"
        return "written"

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(one_instance, stores))
        assert outcomes == ["conflict", "written"]
        assert stores[0].positions("t") == {0: 1}
        assert [c["item_count"] for c in stores[0].catalogs()] == [1]
        assert len(stores[0].changes(0, [], 10)) == 1  # one feed entry, not two
    finally:
        for store in stores:
            store.close()


def test_a_name_search_matches_like_wildcards_literally(store: ViewStore) -> None:
    store.create()
    names = {
        "a": "50% off mug",
        "b": "500 off mug",
        "c": "big_mug",
        "d": "big mug",
        "e": "back\\slash",
    }
    records = [
        Incoming(0, offset, "42", item, change(item, price="5", name=name))
        for offset, (item, name) in enumerate(names.items())
    ]
    store.write("t", plan_batch(records, {}, lambda _: None))

    def found(text: str) -> list[str]:
        rows = store.item_rows("42", ItemFilter(name_contains=text))
        return [row[ITEM_COLUMNS.index("item_id")] for row in rows]

    assert found("50%") == ["a"]
    assert found("g_m") == ["c"]
    assert found("k\\s") == ["e"]
    assert found("MUG") == ["a", "b", "c", "d"]


def test_the_feed_is_pruned_to_its_newest_changes_and_pages_say_how_far_they_looked(
    store: ViewStore,
) -> None:
    store.create()
    records = [
        Incoming(0, n, "42", f"i{n}", change(f"i{n}", price="5")) for n in range(10)
    ]  # ten item_added changes
    store.write("t", plan_batch(records, {}, lambda _: None))
    rare = store.feed_page(0, ["price_drop"], 500)
    assert (rare.changes, rare.scanned_to, rare.first_seq) == ([], 10, 1)
    assert store.prune_changes(keep=3) == 7
    kept = store.feed_page(0, [], 500)
    assert [c["seq"] for c in kept.changes] == [8, 9, 10]
    assert kept.first_seq == 8
