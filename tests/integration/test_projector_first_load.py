"""A first catch-up in parts (first_load.py: two worker processes, then one merge) gives exactly
what one process catching up gives: the same items, catalogs, removals, offsets and debts, the
same change feed partition by partition (in the same order within each; only how partitions
interleave may differ), the same dead letters and restatements written to the topic, and the
same counts in the metrics (records by verdict, dead letters, restatements).
Random histories (partial postbacks, exact repeats, removals, re-additions, older versions after
newer ones, untimed ones) with unreadable records among them go through a real broker twice,
onto two topics with the same records at the same offsets, each caught up by a projector
starting on empty views: one alone, one in parts (a threshold of one record).

One record a batch, in both (ConsumerLoop.catchup_factor 1, passed on to the parts' workers):
what a consumer restates then does not depend on how fetches cut the topic. A catalog's
`last_change_at` is compared where the topic defines it (test_rebuild_split says why)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from catalog_contract import headers
from catalog_contract.keys import product_key
from catalog_contract.writing import product_records
from projector.consumer import ConsumerLoop
from projector.part_counts import counted
from projector.store import ViewStore
from tests.integration.test_rebuild_split import (
    ITEMS,
    PARTITIONS,
    USED,
    _keepers,
    _Said,
    _settled,
    histories,
)
from tests.projector_harness import projector_in_process
from tests.support import eventually, make_topics, projector_settings, read_topic

Record = tuple[bytes | None, bytes | None, Any]  # key, value, headers
GARBAGE = b"\xc3\x01not avro at all"
NAIVE = [(headers.SOURCE_UPDATED_AT, b"2026-11-27T12:00:00")]  # a tombstone's time, no zone


@st.composite
def topics_records(draw: st.DrawFn, most: int) -> list[Record]:
    """A history as the receiver writes it, unreadable records (undecodable, or a tombstone
    whose time has no zone) put in among them under the items' own keys."""
    records: list[Record] = [  # one of each at least, in partitions of their own
        (product_key(*ITEMS[0]), GARBAGE, []),
        (product_key(*ITEMS[-1]), None, NAIVE),
    ]
    for event in _keepers() + draw(histories(most)):
        written = product_records(event)
        records.extend((written.key, v, list(written.headers)) for v in written.values)
        if draw(st.integers(0, 6)) == 0:
            catalog, item = draw(st.sampled_from(ITEMS))
            bad = draw(st.sampled_from([(GARBAGE, []), (None, NAIVE)]))
            records.append((product_key(catalog, item), *bad))
    return records


async def _produce(bootstrap: str, topic: str, records: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, record_headers in records:
            await producer.send(topic, value, key=key, headers=record_headers)
        await producer.flush()
    finally:
        await producer.stop()


def _views(store: ViewStore) -> dict[str, Any]:
    query = store._query  # the tables themselves
    changes = query(
        'SELECT kind, catalog_id, item_id, old, new, event_id, "partition", "offset" '
        "FROM changes ORDER BY seq"
    )
    catalogs = query("SELECT * FROM catalogs ORDER BY catalog_id")
    return {
        "items": query("SELECT * FROM items ORDER BY catalog_id, item_id"),
        "removals": query("SELECT * FROM removals ORDER BY catalog_id, item_id"),
        "owed": query("SELECT * FROM owed_restatements ORDER BY catalog_id, item_id"),
        "offsets": query('SELECT "partition", next_offset FROM offsets ORDER BY "partition"'),
        # each partition's feed in its order (feed order across partitions may differ)
        "changes": {p: [c for c in changes if c[6] == p] for p in range(PARTITIONS)},
        "catalogs": [row if row[0] == "k" else row[:4] for row in catalogs],
    }


async def _caught_up(
    bootstrap: str, records: list[Record], workers: int
) -> tuple[dict[str, Any], list[Any], list[Any], list[str]]:
    """The views once a projector starting on empty views caught up with `records` (and the
    restatements it wrote), the product topic, the dead letters, what rebuild_split said."""
    topics = await make_topics(bootstrap, PARTITIONS)
    await _produce(bootstrap, topics.product, records)
    said, logger = _Said(), logging.getLogger("projector.rebuild_split")
    logger.addHandler(said)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with tempfile.TemporaryDirectory(prefix="first-load-") as work:
            settings = projector_settings(
                bootstrap, topics, Path(work) / "views.db", rebuild_workers=workers,
                first_load_min_records=1, batch_max_records=1,
            )  # fmt: skip
            async with projector_in_process(settings) as (runtime, _):
                await eventually(
                    lambda: _settled(bootstrap, runtime.store, topics.product), timeout_s=120
                )
                views = _views(runtime.store)
                # records by verdict, dead letters, restatements: the parts' counts added
                views["counted"] = counted(runtime.metrics)
            left = sorted(p.name for p in Path(work).glob("views*.db"))  # noqa: ASYNC240
            assert left == ["views.db"], left  # no part left behind
    finally:
        logger.removeHandler(said)
        logger.setLevel(level)
    product = await read_topic(bootstrap, topics.product)
    dead = await read_topic(bootstrap, topics.projector_dead_letter)
    topic = sorted((m.partition, m.offset, m.key, m.value) for m in product)
    # (their offsets there follow how the source partitions interleaved: not compared)
    source = topics.product.encode()  # (each run has its own topics)
    letters = sorted(
        (m.partition, m.key, m.value or b"", sorted((k, b"<source>" if v == source else v)
                                                   for k, v in m.headers))
        for m in dead
    )  # fmt: skip
    return views, topic, letters, said.messages


@settings(
    max_examples=4,
    deadline=None,
    database=None,
    derandomize=True,  # CI runs exactly these examples
    phases=(Phase.explicit, Phase.generate),  # no shrinking: each example is two broker runs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(records=topics_records(60))
def test_a_first_catch_up_in_parts_gives_what_one_process_gives(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, records: list[Record]
) -> None:
    monkeypatch.setattr(ConsumerLoop, "catchup_factor", 1)  # see the module's docstring

    async def both() -> None:
        one, one_topic, one_letters, one_said = await _caught_up(kafka_bootstrap, records, 1)
        split, split_topic, split_letters, said = await _caught_up(kafka_bootstrap, records, 2)
        assert one_said == []
        assert said == ["first catch-up loaded in parts"]  # two processes did load it
        assert split == one
        assert split_topic == one_topic  # the same restatements, at the same offsets
        assert split_letters == one_letters
        assert one_letters  # (the examples do have unreadable records)
        assert one["counted"]["dead_lettered"][""] == len(one_letters)
        assert any(p in USED and one["changes"][p] for p in USED)

    asyncio.run(both())
