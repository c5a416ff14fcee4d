"""Attack on the split rebuild's read-back filter (rebuild_part_store.py): keys with unusual
bytes (NUL, astral and combining characters, a 20,000-character id, ids equal but for case or
normalisation, a catalog id that is another's prefix), each removed, re-added and merged onto by
partial postbacks many batches later, through a real worker on the real broker (batches of two).
The part must hold what one fold of the whole topic gives (items, removal markers, catalogs,
offsets)."""

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

HOSTILE = [
    "nul\x00inside",
    "\x00",
    "e\u0301",  # e + combining acute
    "\u00e9",  # é precomposed: equal to the one above only once normalised
    "CaSe",
    "case",
    "\U0001f600emoji",
    "x" * 20_000,
    " padded ",
]


def _tables(store: SqliteStore) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: store._query(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608
        for table in ("items", "removals", "catalogs", "offsets")
    }


async def test_a_part_with_hostile_keys_equals_one_fold(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    events = []
    for n, item in enumerate(HOSTILE):
        catalog = "c\x00" if n % 2 else "c"  # a catalog id and one with a NUL after it
        events.append(change(item, catalog, minute=1, price="1.00", name=f"N{n}",
                             stock=Availability.IN_STOCK))  # fmt: skip
    fillers = [change(f"f{n}", "c", minute=1, price="5.00", name="F") for n in range(30)]
    events.extend(fillers)
    for n, item in enumerate(HOSTILE):  # partial postbacks far after their first state
        catalog = "c\x00" if n % 2 else "c"
        events.append(change(item, catalog, minute=2, price="2.00"))
        if n % 3 == 0:
            events.append(change(item, catalog, kind=ChangeType.REMOVED, minute=3))
    events.extend(change(f"g{n}", "c", minute=1, price="5.00") for n in range(30))
    for n, item in enumerate(HOSTILE):  # stale retries, re-additions, restocks
        catalog = "c\x00" if n % 2 else "c"
        events.append(change(item, catalog, minute=2, price="9.00"))  # stale or removed-before
        events.append(change(item, catalog, minute=4, stock=Availability.OUT_OF_STOCK))
    written = await produce_events(kafka_bootstrap, topics.product, events)
    path = tmp_path / "part.db"
    SqliteStore(path).create(False)
    settings = ProjectorSettings(
        bootstrap_servers=kafka_bootstrap, topic=topics.product, batch_max_records=2
    )
    await asyncio.wait_for(load(Orders(settings, path, {0: written}, os.getpid())), 120)

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
        assert _tables(part) == _tables(expected)
        assert len(part._query("SELECT * FROM items")) == len(HOSTILE) + 60
    finally:
        part.close()
        expected.close()
