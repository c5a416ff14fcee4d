"""The change feed and the consumer through the real broker: the feed's numbers survive a
rebuild, and readers holding every thread of the default pool cannot stop the consumer."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from catalog_contract import topics as contract_topics
from catalog_stream.topic_admin import ensure_all
from projector.generations import Generations
from tests.factories import change
from tests.support import (
    Topics,
    caught_up,
    eventually,
    produce_events,
    projector_settings,
    rebuilt,
    running_projector,
)

pytestmark = pytest.mark.broker


async def _feed(projector: httpx.AsyncClient, after: int = 0) -> list[dict[str, object]]:
    answer = await projector.get("/v1/changes", params={"after": after})
    assert answer.status_code == 200, answer.text
    changes: list[dict[str, object]] = answer.json()["changes"]
    return changes


async def test_the_feeds_numbers_go_on_across_a_rebuild(
    kafka_bootstrap: str, generations: Generations, tmp_path: Path
) -> None:
    # One partition under a delete policy, so the oldest records can be removed before the
    # rebuild, as retention or compaction would: the rebuilt feed is then SHORTER than the live.
    name = f"test.feed.{uuid.uuid4().hex[:8]}"
    await ensure_all(kafka_bootstrap, [contract_topics.TopicSpec(name, 1, 1, {})])
    topics = Topics(product=name, dead_letter=f"{name}.dlt")
    history = [
        change("a", minute=0, price="10"),  # item_added
        change("a", minute=1, price="5"),  # price_drop
        change("a", minute=2, price="3"),  # price_drop
        change("b", minute=3, price="1"),  # item_added
    ]
    written = await produce_events(kafka_bootstrap, name, history)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db", restate=False)
    async with running_projector(settings, generations) as projector:
        await _ready(projector, written, timeout_s=60)
        before = await _feed(projector)
        assert [c["kind"] for c in before] == ["item_added", "price_drop", "price_drop",
                                               "item_added"]  # fmt: skip
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_records({TopicPartition(name, 0): RecordsToDelete(before_offset=2)})
        finally:
            await admin.close()
        await rebuilt(projector, timeout_s=60)
        assert await _feed(projector) == before  # the same changes under the same numbers
        last = int(str(before[-1]["seq"]))
        await produce_events(kafka_bootstrap, name, [change("c", minute=4, price="2")])

        async def next_change() -> list[dict[str, object]]:
            return await _feed(projector, after=last)

        new = await eventually(next_change, timeout_s=30)
    assert [(c["kind"], c["item_id"]) for c in new] == [("item_added", "c")]
    assert int(str(new[0]["seq"])) > last


async def _ready(projector: httpx.AsyncClient, written: int, timeout_s: float) -> None:
    await caught_up(projector, written, timeout_s, path="/healthz")  # answered without the store


async def test_readers_holding_every_default_pool_thread_do_not_stop_the_consumer(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db", restate=False)
    async with running_projector(settings) as projector:
        await _ready(projector, 0, timeout_s=30)  # started, nothing yet
        loop = asyncio.get_running_loop()
        release = threading.Event()
        # Far more than the default pool's threads (at most 32): what hundreds of change
        # streams and page reads waiting on a slow store look like to the consumer.
        readers = [loop.run_in_executor(None, release.wait, 120) for _ in range(64)]
        try:
            written = await produce_events(
                kafka_bootstrap, topics.product, [change(f"s{n}", price="2") for n in range(20)]
            )
            await _ready(projector, written, timeout_s=60)
        finally:
            release.set()
            await asyncio.gather(*readers)
