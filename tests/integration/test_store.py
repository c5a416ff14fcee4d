"""The view stores themselves, against SQLite and PostgreSQL alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projector.batch import plan_batch
from projector.errors import PositionConflict, StoreUnavailable
from projector.records import Incoming
from projector.store import ViewStore
from tests.factories import change


def test_a_failed_read_leaves_the_connection_usable(store: ViewStore) -> None:
    with pytest.raises(StoreUnavailable):
        store.positions("t")  # no tables yet
    store.create()
    assert store.positions("t") == {}


def test_a_batch_planned_on_old_positions_is_not_written(store: ViewStore) -> None:
    store.create()
    event = change("x", price="1")
    record = Incoming(0, 0, event.catalog_id, event.catalog_item_id, event)
    store.write("t", plan_batch([record], {}, store.load_item))
    assert store.positions("t") == {0: 1}
    # Another instance planned the same record from offset 0 before this one wrote it.
    stale_plan = plan_batch([record], {}, lambda key: None)
    with pytest.raises(PositionConflict):
        store.write("t", stale_plan)
    assert store.positions("t") == {0: 1}
    assert store.load_item(("42", "x")) is not None
    assert store.load_item(("42", "x")).revision == 1  # type: ignore[union-attr]


def test_create_adds_the_columns_a_newer_schema_brought(store: ViewStore) -> None:
    store.create()
    with store._transaction() as cursor:  # make it look like a store from schema v1's time
        cursor.execute('ALTER TABLE items DROP COLUMN "shipping_cost"')
        cursor.execute('ALTER TABLE items DROP COLUMN "sale_ends_at"')
    store.create()
    event = change("x", price="1", shipping_cost=Decimal("2.5000"))
    record = Incoming(0, 0, event.catalog_id, event.catalog_item_id, event)
    store.write("t", plan_batch([record], {}, store.load_item))
    assert store.load_item(("42", "x")).shipping_cost == Decimal("2.5000")  # type: ignore[union-attr]
