"""A rebalance that revokes partitions as a caught-up batch's write ends: the next batch, planned
again with what was fetched during the write, still starts each partition where the store holds it
(no broker: the consumer is a stand-in that revokes as the rebalance listener does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

from catalog_contract import codec, headers
from catalog_contract.events import ProductChange
from catalog_contract.keys import product_key
from projector.consumer import ConsumerLoop
from tests.factories import change
from tests.projector_harness import Message, consumer_loop


def _message(partition: int, offset: int, event: ProductChange) -> Message:
    key = product_key(event.catalog_id, event.catalog_item_id)
    return Message(partition, offset, key, codec.encode(event), list(headers.for_change(event)))


class _RevokingConsumer:
    """Answers the loop's two fetches of `_write_and_fetch_ahead`; before the second, the write
    has ended and the rebalance listener has revoked every partition (`on_partitions_revoked`
    pops them once `_settle` returns), the assignment not come back yet."""

    def __init__(self, loop: ConsumerLoop, answers: list[dict[int, list[Message]]]) -> None:
        self._loop = loop
        self._answers = answers
        self.fetches = 0

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        self.fetches += 1
        if self.fetches == 2:
            self._loop.applied.clear()  # what on_partitions_revoked does for each partition
        topic = self._loop.settings.topic
        answer = self._answers.pop(0) if self._answers else {}
        return {TopicPartition(topic, p): messages for p, messages in answer.items()}

    def assignment(self) -> set[TopicPartition]:
        """Asked once the write is committed (its lag is updated there): nothing assigned."""
        return set()


@pytest.mark.parametrize("more", [False, True])
async def test_the_next_batch_starts_where_the_store_holds_each_partition(
    tmp_path: Path, more: bool
) -> None:
    loop = consumer_loop(tmp_path / "views.db")
    topic = loop.settings.topic
    earlier = [_message(1, n, change(f"p1-{n}", minute=n, price="1")) for n in range(5)]
    loop.store.write(topic, loop._plan(earlier, {}))
    loop.applied = loop.store.positions(topic)
    assert loop.applied == {1: 5}
    plan = loop._plan([_message(0, 0, change("a", minute=1, price="1"))], dict(loop.applied))
    fetched_during = {0: [_message(0, 1, change("a", minute=2, price="2"))]} if more else {}
    consumer = _RevokingConsumer(
        loop, [{1: [_message(1, 5, change("p1-5", minute=5, price="1"))]}, fetched_during]
    )
    ahead = await loop._write_and_fetch_ahead(consumer, plan)
    assert ahead is not None
    assert consumer.fetches == 2
    following = await ahead.plan
    assert following.planned_from == ({0: 1, 1: 5} if more else {1: 5})
    loop.store.write(topic, following)  # not refused as a conflict of positions
    assert loop.store.positions(topic) == ({0: 2, 1: 6} if more else {0: 1, 1: 6})
