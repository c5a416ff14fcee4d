"""A rebuild loaded in parts (rebuild_split.py, two worker processes) gives exactly what a
one-process rebuild gives: the same views, feed, offsets and owed restatements, and the same
restatements written to the topic. Random histories (partial postbacks, exact repeats, removals,
re-additions, older versions arriving after newer ones, untimed ones) go through a real broker
twice, onto two topics with the same records at the same offsets: the active generation follows
the first part of the history, then the rest arrives past its positions (fed, kept and restated
by the builder alone) and each projector rebuilds, one with one process, one with two.

A catalog's `last_change_at` is compared where it is defined by the topic: a catalog that
empties during the load (its row deleted, created again later) gets the newest time since then,
which depends on how the partitions' batches interleaved, in one process as well. Catalog "k"
has an item never removed first in each partition, so it never empties: its time is compared.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from catalog_contract.events import Availability, ChangeType, ProductChange
from catalog_contract.keys import partition_for, product_key
from projector.consumer import ConsumerLoop
from projector.rebuilding import Rebuild
from projector.store import ViewStore
from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.support import (
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    read_topic,
)

PARTITIONS = 4  # partition 3 stays empty: no item's key goes there
USED = (0, 1, 2)


def _ids(catalog: str, prefix: str, per_partition: int) -> list[str]:
    """Item ids of `catalog` whose keys go to the used partitions, `per_partition` each."""
    found: dict[int, list[str]] = {p: [] for p in USED}
    n = 0
    while any(len(ids) < per_partition for ids in found.values()):
        item = f"{prefix}{n}"
        p = partition_for(product_key(catalog, item), PARTITIONS)
        if p in found and len(found[p]) < per_partition:
            found[p].append(item)
        n += 1
    return [i for ids in found.values() for i in ids]


KEEPERS = _ids("k", "keep-", 1)  # catalog k's first item in each used partition, never removed
ITEMS = [("k", i) for i in _ids("k", "i", 2)] + [("f", i) for i in _ids("f", "i", 2)]


@st.composite
def postbacks(draw: st.DrawFn) -> ProductChange:
    catalog, item = draw(st.sampled_from(ITEMS))
    kind = draw(st.sampled_from(["full", "price", "name", "stock", "removed"]))
    minute = draw(st.one_of(st.none(), st.integers(1, 12)))  # None: untimed
    if kind == "removed":
        return change(item, catalog, kind=ChangeType.REMOVED, minute=minute)
    values: dict[str, Any] = {
        "price": f"{draw(st.integers(1, 3))}.00",
        "name": draw(st.sampled_from(["Mug", "Cup"])),
        "stock": draw(st.sampled_from([Availability.IN_STOCK, Availability.OUT_OF_STOCK])),
    }
    if kind != "full":
        values = {kind: values[kind]}
    return change(item, catalog, minute=minute, **values)


@st.composite
def histories(draw: st.DrawFn, most: int) -> list[ProductChange]:
    events: list[ProductChange] = []
    for _ in range(draw(st.integers(0, most))):
        if events and draw(st.integers(0, 5)) == 0:
            events.append(draw(st.sampled_from(events)))  # an exact repeat (a retry)
        else:
            events.append(draw(postbacks()))
    return events


def _keepers() -> list[ProductChange]:
    return [change(i, "k", minute=0, price="9.00", name="Kept") for i in KEEPERS]


def _views(store: ViewStore) -> dict[str, Any]:
    query = store._query  # the tables themselves
    changes = query(
        'SELECT seq, kind, catalog_id, item_id, old, new, event_id, "partition", "offset" '
        "FROM changes ORDER BY seq"
    )
    for p in USED:  # the feed's order: each partition's changes in offset order
        offsets = [c[8] for c in changes if c[7] == p]
        assert offsets == sorted(offsets), changes
    catalogs = query("SELECT * FROM catalogs ORDER BY catalog_id")
    return {
        "items": query("SELECT * FROM items ORDER BY catalog_id, item_id"),
        "removals": query("SELECT * FROM removals ORDER BY catalog_id, item_id"),
        "owed": query("SELECT * FROM owed_restatements ORDER BY catalog_id, item_id"),
        "offsets": query('SELECT "partition", next_offset FROM offsets ORDER BY "partition"'),
        # The live consumer's batches numbered the first part of the feed as its fetches went:
        # each partition's changes in order, compared without the numbers across partitions.
        "changes": sorted((c[1:] for c in changes), key=repr),
        "catalogs": [row if row[0] == "k" else row[:4] for row in catalogs],
    }


async def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items() if o}
    finally:
        await consumer.stop()


class _Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _rebuilt(
    bootstrap: str, first: list[ProductChange], second: list[ProductChange], workers: int
) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[str]]:
    """The views after a rebuild with `workers` processes, the topic's records (restatements
    included), and what rebuild_split said."""
    topics = await make_topics(bootstrap, PARTITIONS)
    said, logger = _Said(), logging.getLogger("projector.rebuild_split")
    logger.addHandler(said)
    level = logger.level
    logger.setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="split-") as work:
        settings = projector_settings(
            bootstrap, topics, Path(work) / "views.db", rebuild_workers=workers,
            # One record a batch (the test sets ConsumerLoop.catchup_factor 1: no bigger
            # batch catching up): what the live consumer and the builder restate does not
            # depend on how fetches cut the topic, so both topics get the same restatements.
            batch_max_records=1,
        )  # fmt: skip
        try:
            await produce_events(bootstrap, topics.product, first)
            async with projector_in_process(settings) as (runtime, _):
                await eventually(lambda: _settled(bootstrap, runtime.store, topics.product))
                await runtime.stop_live_consumer()  # the rest arrives past the active positions
                await produce_events(bootstrap, topics.product, second)
                await Rebuild(runtime).run()
                assert runtime.rebuild_status.state == "done"
                # The restatements the rebuild wrote are applied too.
                await eventually(lambda: _settled(bootstrap, runtime.store, topics.product))
                views = _views(runtime.store)
            records = await read_topic(bootstrap, topics.product)
        finally:
            logger.removeHandler(said)
            logger.setLevel(level)
        generations = [p.name for p in Path(work).glob("views*.db")]  # noqa: ASYNC240
        assert len(generations) == 1, generations  # the active one: no part left behind
    restatements = sorted((m.partition, m.offset, m.key, m.value) for m in records)
    return views, restatements, said.messages


async def _settled(bootstrap: str, store: ViewStore, topic: str) -> bool:
    """The store holds every record of the topic (the same ends before and after a look)."""
    ends = await _ends(bootstrap, topic)
    await asyncio.sleep(0.3)
    return store.positions(topic) == ends == await _ends(bootstrap, topic)


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    derandomize=True,  # CI runs exactly these examples
    phases=(Phase.explicit, Phase.generate),  # no shrinking: each example is two broker runs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(first=histories(60), second=histories(15))
def test_a_rebuild_in_parts_builds_what_one_process_builds(
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    first: list[ProductChange],
    second: list[ProductChange],
) -> None:
    monkeypatch.setattr(ConsumerLoop, "catchup_factor", 1)  # see _rebuilt: one record a batch
    first = _keepers() + first

    async def both() -> None:
        one, one_records, _ = await _rebuilt(kafka_bootstrap, first, second, workers=1)
        split, split_records, said = await _rebuilt(kafka_bootstrap, first, second, workers=2)
        assert said == ["rebuild loaded in parts"]  # two processes did load it
        assert split == one
        assert split_records == one_records  # the same restatements, at the same offsets

    asyncio.run(both())
