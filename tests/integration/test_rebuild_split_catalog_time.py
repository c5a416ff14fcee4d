"""A catalog that never empties in one process, but whose items in one part's partitions all go
during the load: a part's catalog row is then deleted (its count 0) and with it the newest item
time that part saw, so the merged `last_change_at` lacks it. One process keeps the catalog's row
all along (another partition's item stays), so its time is the newest item state's of any
partition. One record a batch in both (test_rebuild_split._rebuilt): no batch cut decides it."""

from __future__ import annotations

import asyncio

from catalog_contract.events import ChangeType
from catalog_contract.keys import partition_for, product_key
from tests.factories import change
from tests.integration.test_rebuild_split import PARTITIONS, _rebuilt


def _item_in(catalog: str, partition: int) -> str:
    n = 0
    while partition_for(product_key(catalog, f"t{n}"), PARTITIONS) != partition:
        n += 1
    return f"t{n}"


def test_a_part_whose_items_all_went_keeps_the_catalog_time(kafka_bootstrap: str) -> None:
    kept, gone = _item_in("k", 0), _item_in("k", 1)
    first = [
        change(kept, "k", minute=1, price="1.00"),  # stays: the catalog never empties
        change(gone, "k", minute=10, price="2.00"),  # the newest item state of the catalog
        change(gone, "k", minute=11, kind=ChangeType.REMOVED),
    ]

    async def both() -> None:
        one, _, _ = await _rebuilt(kafka_bootstrap, first, [], workers=1)
        split, _, said = await _rebuilt(kafka_bootstrap, first, [], workers=2)
        assert said == ["rebuild loaded in parts"]
        assert split["catalogs"] == one["catalogs"]  # catalog "k": its time compared too

    asyncio.run(both())
