"""A batch's `_done` after a rebalance took its partition away and gave it back while another
instance applied more of it: the views' position (`applied`) must not go back to the batch's,
behind the store's (the lag then counts records the views hold, and the batch fetched after it,
planned on the old position, passes as planned where stored: kept and restated again). And a
partition revoked meanwhile must not come back into `applied` (no broker: the consumer is a
stand-in that revokes and assigns as the rebalance listener does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

from catalog_contract import codec, headers
from catalog_contract.events import ProductChange
from catalog_contract.keys import product_key
from projector.consumer import ConsumerLoop
from projector.item_state import Position
from tests.factories import change
from tests.projector_harness import Message, consumer_loop


def _message(partition: int, offset: int, event: ProductChange) -> Message:
    key = product_key(event.catalog_id, event.catalog_item_id)
    return Message(partition, offset, key, codec.encode(event), list(headers.for_change(event)))


class _RebalancingConsumer:
    """The loop's fetches of `_write_and_fetch_ahead`: the first answers `fetched_during`; before
    the second (the batch is committed and answered by then), partition 0 is revoked, another
    instance writes `elsewhere` into the store, and, if `back`, partition 0 is assigned again
    (the listener reads the store's positions and seeks)."""

    def __init__(
        self,
        loop: ConsumerLoop,
        fetched_during: list[Message],
        elsewhere: list[Message],
        back: bool,
    ) -> None:
        self._loop = loop
        self._tp = TopicPartition(loop.settings.topic, 0)
        self._fetched_during = fetched_during
        self._elsewhere = elsewhere
        self._back = back
        self.owned = {self._tp}
        self.fetches = 0

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        self.fetches += 1
        if self.fetches == 1:
            return {self._tp: self._fetched_during}
        loop, topic = self._loop, self._loop.settings.topic
        self.owned = set()
        loop._revoked([self._tp])
        other = loop._plan(self._elsewhere, loop.store.positions(topic))
        loop.store.write(topic, other)
        if self._back:
            self.owned = {self._tp}
            await loop._seek_to_stored(self, [self._tp])
        return {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.owned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def last_poll_timestamp(self, tp: TopicPartition) -> int | None:
        return None

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return None

    async def commit(self, offsets: Any) -> None:
        pass


@pytest.mark.parametrize("back", [True, False])
async def test_a_stale_done_neither_moves_applied_back_nor_brings_a_revoked_partition_back(
    tmp_path: Path, back: bool
) -> None:
    loop = consumer_loop(tmp_path / "views.db")
    topic = loop.settings.topic
    loop.store.write(topic, loop._plan([_message(0, 0, change("a", minute=0))], {}))
    loop.applied = loop.store.positions(topic)
    loop._positioned.add(0)
    assert loop.applied == {0: 1}
    plan = loop._plan([_message(0, 1, change("a", minute=1))], dict(loop.applied))
    elsewhere = [_message(0, n, change("b", minute=n)) for n in (2, 3)]
    consumer = _RebalancingConsumer(loop, [elsewhere[0]], elsewhere, back)
    ahead = await loop._write_and_fetch_ahead(consumer, plan)
    assert consumer.fetches == 2
    await loop._done(consumer, plan)
    assert loop.store.positions(topic) == {0: 4}
    # Before: {0: 2} in both cases (the batch's own position, published again by `_done`).
    assert loop.applied == ({0: 4} if back else {})
    assert ahead is not None
    following = await ahead.plan  # record 2, planned from 2: the other instance applied it
    assert not loop._planned_where_stored(following)


async def test_a_stale_done_does_not_move_kept_back(tmp_path: Path) -> None:
    """A batch that owes a restatement is kept once written (`_kept`), and `_done` repeats it:
    after its partition was assigned again past it (the listener reads `kept` from the store's
    position, another instance having kept and applied further), `kept` went back to the batch's,
    and a switch's next live consumer kept those records again (duplicates)."""
    loop = consumer_loop(tmp_path / "views.db")
    topic = loop.settings.topic
    loop.store.write(topic, loop._plan([_message(0, 0, change("a", minute=0))], {}))
    loop.applied = loop.store.positions(topic)
    loop._positioned.add(0)
    plan = loop._plan([_message(0, 1, change("a", minute=1))], dict(loop.applied))
    plan.owe = {("42", "a"): Position(0, 1)}  # its restatement failed: owed, kept with it
    elsewhere = [_message(0, n, change("b", minute=n)) for n in (2, 3)]
    consumer = _RebalancingConsumer(loop, [elsewhere[0]], elsewhere, back=True)
    await loop._write_and_fetch_ahead(consumer, plan)
    assert loop.kept == {0: 4}  # the listener's, from the store
    await loop._done(consumer, plan)
    assert loop.kept == {0: 4}  # before: {0: 2}
