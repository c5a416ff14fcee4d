"""Differential: PostgreSQL's COPY write of a batch (items through a temporary table, feed
entries straight in) leaves exactly the tables executemany left, over generated batches with
text COPY must escape (tabs, newlines, backslashes, `\\N`, quotes, non-ASCII), prices at the
edges of 64 bits and missing values; and a value PostgreSQL cannot hold is refused the same way
(StoreRefused), the transaction leaving nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract.events import ChangeType
from projector.batch import BatchPlan, plan_batch
from projector.errors import StoreRefused
from projector.postgres_store import CopyingBatchWrite, PostgresStore
from projector.records import Incoming
from projector.store_write import BatchWrite
from tests.factories import change
from tests.postgres import LocalPostgres

TOPIC = "products"
_text = st.one_of(
    st.none(),
    st.sampled_from(["\t", "\n", "\\", "\\N", "a\\tb", '"q"', "'", "\r\n", "\u2603", "", "NULL"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6),
)
_prices = st.none() | st.sampled_from(["0.0001", "922337203685477.5807", "-1.50", "12.99"])


@pytest.fixture
def pair(postgres: LocalPostgres) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    url = postgres.create_database(f"copy_{uuid.uuid4().hex[:10]}")
    copying, plain = PostgresStore(url, "copying"), PostgresStore(url, "plain")
    plain._batch_write = BatchWrite(plain._sql, plain.lock_rows)
    assert isinstance(copying._batch_write, CopyingBatchWrite)
    for store in (copying, plain):
        store.create()
    yield copying, plain
    for store in (copying, plain):
        store.close()


def _tables(store: PostgresStore) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: store._query(f"SELECT * FROM {table} ORDER BY 1, 2, 3")  # noqa: S608
        for table in ("items", "removals", "changes", "catalogs", "offsets")
    }


@st.composite
def batches(draw: st.DrawFn) -> list[list[Incoming]]:
    found: list[list[Incoming]] = []
    offset = 0
    for _ in range(draw(st.integers(1, 3))):
        batch = []
        for _ in range(draw(st.integers(1, 6))):
            event = change(
                draw(st.sampled_from(["a", "b\tc", "d\\N"])),
                draw(st.sampled_from(["1", "2\n"])),
                minute=draw(st.integers(0, 5)),
                price=draw(_prices),
                kind=draw(st.sampled_from([ChangeType.UPDATED, ChangeType.REMOVED])),
                name=draw(_text),
                description=draw(_text),
                labels=draw(st.none() | st.lists(_text.filter(bool), max_size=2).map(tuple)),
            )
            batch.append(Incoming(0, offset, event.catalog_id, event.catalog_item_id, event))
            offset += 1
        found.append(batch)
    return found


def _apply(store: PostgresStore, batch: list[Incoming]) -> BatchPlan:
    applied = store.positions(TOPIC)
    keys = {(r.catalog_id, r.item_id) for r in batch}
    plan = plan_batch(batch, applied, store.load_items(keys).get)
    store.write(TOPIC, plan)
    return plan


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches())  # fmt: skip
def test_copy_leaves_the_tables_executemany_left(
    pair: tuple[PostgresStore, PostgresStore], batches: list[list[Incoming]]
) -> None:
    copying, plain = pair
    for store in pair:
        with store._transaction() as cursor:
            for table in ("items", "removals", "changes", "catalogs", "offsets"):
                cursor.execute(f"TRUNCATE {table} RESTART IDENTITY")
    for batch in batches:
        assert _apply(copying, batch) == _apply(plain, batch)
        assert _tables(copying) == _tables(plain)


def test_a_value_postgresql_cannot_hold_is_refused_and_nothing_is_left(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    copying, _ = pair
    good = change("ok", "1", price="1.00")
    bad = change("nul", "1", price="1.00", name="a\x00b")
    records = [
        Incoming(0, n, e.catalog_id, e.catalog_item_id, e) for n, e in enumerate([good, bad])
    ]
    plan = plan_batch(records, {}, lambda key: None)
    with pytest.raises(StoreRefused):
        copying.write(TOPIC, plan)
    assert _tables(copying) == {
        t: [] for t in ("items", "removals", "changes", "catalogs", "offsets")
    }
    huge = change("huge", "1", price="1.00", discount_percentage=2**70)
    plan = plan_batch([Incoming(0, 0, "1", "huge", huge)], {}, lambda key: None)
    with pytest.raises(StoreRefused):
        copying.write(TOPIC, plan)
    _apply(copying, records[:1])  # the connection goes on
    assert [row[1] for row in _tables(copying)["items"]] == ["ok"]
