"""Through the real broker: a new item's untimed postback is not restated (a replay applies it
over nothing too), an untimed postback of a known item still is, and a replay of what
compaction keeps builds the same views."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_contract.events import Availability
from catalog_contract.keys import product_key
from tests.factories import change
from tests.integration.test_compaction import _compacted, _live, _replay
from tests.support import Topics

pytestmark = pytest.mark.broker

SEQUENCE = [
    change("new", "c1", minute=None, price="9.99"),  # the freshness bench's postback
    change("known", "c1", minute=0, price="10.00", name="Mug", stock=Availability.IN_STOCK),
    change("known", "c1", minute=None, price="8.00"),  # untimed, over a state: restated
]


async def test_only_the_known_items_untimed_postback_is_restated(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    live, _, records, restated = await _live(kafka_bootstrap, topics, tmp_path, SEQUENCE)
    assert [r.key for r in restated] == [product_key("c1", "known")]  # the old rule: "new" too
    replayed, _ = await _replay(kafka_bootstrap, _compacted(records), tmp_path, "replay")
    assert replayed == live
    [new] = [i for i in live["items"]["c1"] if i["item_id"] == "new"]
    assert new["current_price"] == "9.99"
