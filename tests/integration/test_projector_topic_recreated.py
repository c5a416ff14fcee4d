"""The product topic deleted and created again under the same name while the projector runs (a
real broker): its new records sit at offsets the views take for applied.

Failed before: Kafka sent the consumer back to the new topic's start, every new record was
skipped as a duplicate, for ever, and /readyz said ready at lag 0: postbacks acknowledged with
a 200 never reached the views, and nothing said so. Now the partition is paused, /readyz says
503 naming the partition, its end, the views' position and the remedy, the gauge says 1, and a
rebuild (the remedy) brings the new topic's records into new views and readiness back.

Attacked (attack33): a topic recreated with FEWER partitions. The rebuild dropped the old
positions of the partitions it found behind, but not of those the topic no longer has: the
builder waited for partition 1's old position, which no record will ever reach, and the rebuild
failed after REACH_TIMEOUT_S (60 s), so the remedy /readyz names could not mend it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from catalog_contract import topics as contract_topics
from catalog_contract.events import ChangeType, ProductChange
from catalog_stream.topic_admin import ensure_all
from projector.settings import ProjectorSettings
from projector.topic_behind import BEHIND_CONFIRM_S
from tests.factories import change
from tests.support import (
    Topics,
    caught_up,
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    rebuilt,
    running_projector,
)

pytestmark = pytest.mark.broker


async def _recreated(bootstrap: str, topic: str, partitions: int = 1) -> None:
    """`topic` deleted, then created again as the project creates it (once Kafka let go of it),
    with `partitions`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        await eventually(lambda: _gone(admin, topic), timeout_s=30)
    finally:
        await admin.close()

    async def created() -> bool:
        try:
            await ensure_all(
                bootstrap, [contract_topics.product_topic(topic, partitions=partitions)]
            )
        except Exception:  # (still being deleted: TopicExists, or its wrapper)
            return False
        return True

    await eventually(created, timeout_s=30, every_s=0.5)


async def _gone(admin: AIOKafkaAdminClient, topic: str) -> bool:
    try:
        return topic not in await admin.list_topics()
    except KafkaError:
        return False


async def _readiness(projector: httpx.AsyncClient) -> httpx.Response:
    return await projector.get("/readyz")


def _settings(bootstrap: str, topics: Topics, tmp_path: Path) -> ProjectorSettings:
    """The projector's, asking Kafka for the topic's partitions every half second (a topic
    recreated is seen at once)."""
    return projector_settings(bootstrap, topics, tmp_path / "v.db", metadata_max_age_ms=500)


async def _said_behind(projector: httpx.AsyncClient, saying: str) -> httpx.Response:
    """/readyz, once it answers 503 saying `saying` (it says 503 "catching up" while the topic
    is gone), within the confirmation and the metadata refresh, with room for a loaded machine."""

    async def said() -> httpx.Response | None:
        answer = await _readiness(projector)
        return answer if answer.status_code == 503 and saying in answer.text else None

    answer: httpx.Response = await eventually(said, timeout_s=BEHIND_CONFIRM_S + 40, every_s=0.5)
    return answer


async def test_a_recreated_topic_is_said_and_a_rebuild_mends_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    old = [change(f"old-{n}", price=f"{n}.50") for n in range(6)]
    written = await produce_events(kafka_bootstrap, topics.product, old)
    settings = _settings(kafka_bootstrap, topics, tmp_path)
    async with running_projector(settings) as projector:
        await caught_up(projector, written)
        await _recreated(kafka_bootstrap, topics.product)
        new = [change("new-1", price="9.99"), change("new-2", price="1.25")]
        rewritten = await produce_events(kafka_bootstrap, topics.product, new)
        assert rewritten < written  # (the new records sit at offsets the views applied)

        answer = await _said_behind(projector, "holds fewer records")
        error = answer.json()["error"]
        assert f"partition 0 ends at offset {rewritten}" in error, error
        assert f"the views hold records up to {written}" in error, error
        assert "catalog-stream rebuild" in error, error
        metrics = (await projector.get("/metrics")).text
        assert 'projector_topic_behind_views{partition="0"} 1.0' in metrics
        await asyncio.sleep(1)  # (still said: no retry mends it)
        assert (await _readiness(projector)).status_code == 503

        status = await rebuilt(projector, timeout_s=120)
        assert status["applied"] == status["target"] == rewritten
        item = await projector.get(f"/v1/catalogs/42/items/{new[0].catalog_item_id}")
        assert item.status_code == 200, item.text
        assert item.json()["current_price"] == "9.99"
        await eventually(lambda: _ready_again(projector), timeout_s=30, every_s=0.5)
        # Mended, the alert ends (attack33: the gauge stayed 1, ProjectorTopicBehindViews
        # firing for the life of the process after the remedy it names).
        metrics = (await projector.get("/metrics")).text
        assert 'projector_topic_behind_views{partition="0"} 1.0' not in metrics


async def _ready_again(projector: httpx.AsyncClient) -> bool:
    return (await _readiness(projector)).status_code == 200


async def test_a_topic_recreated_with_fewer_partitions_is_rebuilt(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=2)
    old = [change(f"old-{n}", price=f"{n}.50") for n in range(16)]
    written = await produce_events(kafka_bootstrap, topics.product, old)
    settings = _settings(kafka_bootstrap, topics, tmp_path)
    async with running_projector(settings) as projector:
        await caught_up(projector, written)
        await _recreated(kafka_bootstrap, topics.product, partitions=1)
        rewritten = await produce_events(kafka_bootstrap, topics.product, [change("new-1")])

        await _said_behind(projector, "partition 0 ends at offset")
        status = await rebuilt(projector, timeout_s=100)
        assert status["applied"] == status["target"] == rewritten
        item = await projector.get("/v1/catalogs/42/items/new-1")
        assert item.status_code == 200, item.text
        await eventually(lambda: _ready_again(projector), timeout_s=30, every_s=0.5)


@asynccontextmanager
async def _rebuilt_after_recreation(
    bootstrap: str, tmp_path: Path, new: Callable[[list[ProductChange]], list[ProductChange]]
) -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    """Four items old-0..3 applied; the topic recreated with `new(old)` in it, said behind and
    rebuilt: the projector, and the changes after the position a client had before."""
    topics = await make_topics(bootstrap, partitions=1)
    old = [change(f"old-{n}", price=f"{n}.50") for n in range(4)]
    written = await produce_events(bootstrap, topics.product, old)
    async with running_projector(_settings(bootstrap, topics, tmp_path)) as projector:
        await caught_up(projector, written)
        head = (await projector.get("/v1/changes", params={"limit": 1000})).json()["next_after"]
        await _recreated(bootstrap, topics.product)
        await produce_events(bootstrap, topics.product, new(old))

        await _said_behind(projector, "holds fewer records")
        await rebuilt(projector, timeout_s=120)
        after = (await projector.get("/v1/changes", params={"after": head, "limit": 1000})).json()
        yield projector, after["changes"]


async def test_the_feed_says_the_items_a_rebuild_of_a_recreated_topic_dropped(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """attack33: a client following /v1/changes (after=) from before the rebuild is told
    old-1..3 were added and never that they were removed, though the rebuilt views no longer
    hold them (404): its copy keeps them for good. Failed: no item_removed for them; the only
    change after the client's position was a second item_added for old-0, which it had. Now
    the switch says each dropped item's removal (event_id null, partition and offset -1)."""
    readded = [change("old-0", price="0.50")]
    async with _rebuilt_after_recreation(kafka_bootstrap, tmp_path, lambda _: readded) as (
        projector,
        changes,
    ):
        assert (await projector.get("/v1/catalogs/42/items/old-1")).status_code == 404
        removed = {c["item_id"] for c in changes if c["kind"] == "item_removed"}
        assert removed == {"old-1", "old-2", "old-3"}, changes


async def test_an_item_the_recreated_topic_removes_is_said_removed_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The new topic adds old-1 again and removes it: the rebuild feeds both (a recreated
    partition is fed whole), and the rebuilt views do not hold old-1, which the old ones did.
    Failed: the switch said its removal a second time (event_id null, partition -1), though
    the client following the feed had just been told it by the record's own item_removed."""
    gone = change("old-1", minute=1, kind=ChangeType.REMOVED)
    async with _rebuilt_after_recreation(
        kafka_bootstrap,
        tmp_path,
        lambda old: [old[1], gone],  # (fewer than the old)
    ) as (_, changes):
        removed = [(c["item_id"], c["event_id"]) for c in changes if c["kind"] == "item_removed"]
        said = [("old-1", str(gone.event_id)), ("old-0", None), ("old-2", None), ("old-3", None)]
        assert removed == said, changes


async def test_a_topic_recreated_with_more_partitions_is_rebuilt(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """attack33, held: the new partitions are read from their start meanwhile, the one found
    behind is built as the topic now is, and every new record is in the rebuilt views."""
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"old-{n}") for n in range(12)]
    )
    settings = _settings(kafka_bootstrap, topics, tmp_path)
    async with running_projector(settings) as projector:
        await caught_up(projector, written)
        await _recreated(kafka_bootstrap, topics.product, partitions=3)
        new = [change(f"new-{n}") for n in range(6)]
        rewritten = await produce_events(kafka_bootstrap, topics.product, new)

        await _said_behind(projector, "partition 0 ends at offset")
        status = await rebuilt(projector, timeout_s=100)
        assert status["applied"] == status["target"] == rewritten
        for event in new:
            answer = await projector.get(f"/v1/catalogs/42/items/{event.catalog_item_id}")
            assert answer.status_code == 200, (event.catalog_item_id, answer.text)
        await eventually(lambda: _ready_again(projector), timeout_s=30, every_s=0.5)


async def test_a_recreated_topic_refilled_past_the_views_before_the_rebuild_is_fed_whole(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """attack33: the partition said behind is paused, and the rebuild it asks for comes later,
    once the new topic has grown past the views' old position (producers go on): the rebuild,
    finding the end no longer below that position, took the old position for the new records'
    (feed_from, keep_past, kept), so the changes of the new records below it were never fed
    (nor their dead letters kept). Failed: no item_added for new-0..new-5."""
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"old-{n}") for n in range(6)]
    )
    settings = _settings(kafka_bootstrap, topics, tmp_path)
    async with running_projector(settings) as projector:
        await caught_up(projector, written)
        head = (await projector.get("/v1/changes", params={"limit": 1000})).json()["next_after"]
        await _recreated(kafka_bootstrap, topics.product)
        new = [change(f"new-{n}") for n in range(12)]
        await produce_events(kafka_bootstrap, topics.product, new[:2])

        await _said_behind(projector, "holds fewer records")
        await produce_events(kafka_bootstrap, topics.product, new[2:])  # past the views' 6
        await rebuilt(projector, timeout_s=120)
        for event in new:
            answer = await projector.get(f"/v1/catalogs/42/items/{event.catalog_item_id}")
            assert answer.status_code == 200, (event.catalog_item_id, answer.text)
        after = (await projector.get("/v1/changes", params={"after": head, "limit": 1000})).json()
        added = {c["item_id"] for c in after["changes"] if c["kind"] == "item_added"}
        assert added >= {event.catalog_item_id for event in new}, after
