"""A client following the change feed across the rebuild of a recreated product topic (a real
broker): it is told of each item the rebuilt views no longer hold, once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_contract.events import ChangeType, ProductChange
from tests.factories import change
from tests.recreated_topic import quick_metadata_settings, recreated_topic, said_behind
from tests.support import caught_up, make_topics, produce_events, rebuilt, running_projector

pytestmark = pytest.mark.broker


@asynccontextmanager
async def _rebuilt_after_recreation(
    bootstrap: str, tmp_path: Path, new: Callable[[list[ProductChange]], list[ProductChange]]
) -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    """Four items old-0..3 applied; the topic recreated with `new(old)` in it, said behind and
    rebuilt: the projector, and the changes after the position a client had before."""
    topics = await make_topics(bootstrap, partitions=1)
    old = [change(f"old-{n}", price=f"{n}.50") for n in range(4)]
    written = await produce_events(bootstrap, topics.product, old)
    async with running_projector(quick_metadata_settings(bootstrap, topics, tmp_path)) as projector:
        await caught_up(projector, written)
        head = (await projector.get("/v1/changes", params={"limit": 1000})).json()["next_after"]
        await recreated_topic(bootstrap, topics.product)
        await produce_events(bootstrap, topics.product, new(old))

        await said_behind(projector, "holds fewer records")
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
