"""Through the real broker: a split rebuild's worker reads back only the keys its part wrote
(rebuild_part_store.py), and a key it did write is read back however far apart its records are.
Batches of two records: an item's partial postbacks come 40 records (20 batches) after its first
state, past any window of states a loop keeps; another's come in the next batch; a removed item
comes back with a partial postback. The part holds what one fold of the whole topic gives."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from catalog_contract.events import Availability, ChangeType
from projector.batch import plan_batch
from projector.rebuild_split_worker import Orders, load
from projector.records import Incoming, read_record
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.support import make_topics, produce_events, read_topic


def _tables(store: SqliteStore) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: store._query(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608
        for table in ("items", "removals", "catalogs", "offsets")
    }


async def test_a_part_merges_partial_postbacks_onto_states_it_wrote_long_before(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    fillers = [change(f"f{n}", "c", minute=1, price="5.00", name="Filler") for n in range(40)]
    events = [
        change("a", "c", minute=1, price="1.00", name="Mug", stock=Availability.IN_STOCK),
        change("b", "c", minute=1, price="1.00", name="Cup"),  # b: the next batch merges onto it
        change("b", "c", minute=2, price="3.00"),
        change("r", "c", minute=1, price="1.00", name="Bowl"),
        change("r", "c", kind=ChangeType.REMOVED, minute=2),  # (the event, then a tombstone)
        *fillers,
        change("a", "c", minute=2, price="2.00"),  # a: name and stock from offset 0
        change("r", "c", minute=3, name="Back"),  # r: comes back after its removal
        change("a", "c", minute=3, stock=Availability.OUT_OF_STOCK),
        change("n", "c", minute=1, price="4.00"),  # never seen before: nothing to read back
    ]
    written = await produce_events(kafka_bootstrap, topics.product, events)
    path = tmp_path / "part.db"
    SqliteStore(path).create(False)
    settings = ProjectorSettings(
        bootstrap_servers=kafka_bootstrap, topic=topics.product, batch_max_records=2
    )
    await asyncio.wait_for(load(Orders(settings, path, {0: written}, os.getpid())), 60)

    # One process's fold: every record in one batch, from nothing (no feed below the target).
    records = [
        read_record(m.partition, m.offset, m.key, m.value, m.headers)
        for m in await read_topic(kafka_bootstrap, topics.product)
    ]
    assert all(isinstance(r, Incoming) for r in records)
    plan = plan_batch(records, {}, lambda key: None, {0: written})
    expected = SqliteStore(tmp_path / "one.db")
    part = SqliteStore(path)
    try:
        expected.create(False)
        expected._batch_write.drop_if_empty = "DELETE FROM catalogs WHERE catalog_id = ? AND 0"
        expected.write(topics.product, plan)
        found = _tables(part)
        assert found == _tables(expected)
        items = {row[1]: row for row in part._query("SELECT * FROM items")}
        names = [r[1] for r in part._query("PRAGMA table_info(items)")]
        a_row = dict(zip(names, items["a"], strict=True))
        assert (a_row["name"], a_row["current_price"], a_row["stock_availability"]) == (
            "Mug", 20000, "OUT_OF_STOCK",
        )  # fmt: skip
        b_row = dict(zip(names, items["b"], strict=True))
        assert (b_row["name"], b_row["current_price"]) == ("Cup", 30000)
        assert dict(zip(names, items["r"], strict=True))["name"] == "Back"
        assert part._query("SELECT COUNT(*) FROM removals") == [(0,)]
    finally:
        part.close()
        expected.close()
