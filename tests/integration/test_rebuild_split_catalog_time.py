"""A catalog whose items in one part's partitions all go during the load, while another part
keeps one: that part's catalog row is deleted (its count 0), and before the fix the newest item
time it saw went with it, so the merged `last_change_at` was the other part's older time.

The expected value is stated, not compared with a one-process rebuild: one process reads the
partitions in an order Kafka does not fix. Reading partition 1 first, its catalog empties
(added, removed) before partition 0's item arrives, and the row is created again at minute 1;
reading partition 0 first, it never empties and keeps minute 10. The CI run of 2dc7b00 saw the
first order (one process: minute 1, split: minute 10). The split gives the newest time any part
saw, the answer of the order in which the catalog never empties."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from catalog_contract.events import ChangeType
from catalog_contract.keys import partition_for, product_key
from tests.factories import BASE_TIME, change
from tests.integration.test_rebuild_split import PARTITIONS, _rebuilt


def _item_in(catalog: str, partition: int) -> str:
    n = 0
    while partition_for(product_key(catalog, f"t{n}"), PARTITIONS) != partition:
        n += 1
    return f"t{n}"


def _micros(minute: int) -> int:
    """A change's received_at (tests.factories.change: the minute and one second), in µs."""
    return int((BASE_TIME + timedelta(minutes=minute, seconds=1)).timestamp()) * 1_000_000


def test_a_part_whose_items_all_went_keeps_the_catalog_time(kafka_bootstrap: str) -> None:
    kept, gone = _item_in("k", 0), _item_in("k", 1)  # partitions 0 and 1: different parts
    first = [
        change(kept, "k", minute=1, price="1.00"),  # stays: the catalog never empties
        change(gone, "k", minute=10, price="2.00"),  # the newest item state of the catalog
        change(gone, "k", minute=11, kind=ChangeType.REMOVED),
    ]

    async def split() -> None:
        views, _, said = await _rebuilt(kafka_bootstrap, first, [], workers=2)
        assert said == ["rebuild loaded in parts"]
        assert views["catalogs"] == [("k", 1, 0, 0, _micros(10))]

    asyncio.run(split())
