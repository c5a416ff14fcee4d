"""What the consumer loop tells readers about its progress (no broker: the state is set directly,
as the loop sets it from fetch answers), and how it plans a batch."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

from aiokafka import TopicPartition

from catalog_contract import codec, headers
from catalog_contract.events import ProductChange
from catalog_contract.keys import product_key
from projector.batch import CatalogDelta
from projector.item_state import ChangeKind, ItemState
from tests.factories import change
from tests.projector_harness import Message, consumer_loop


def test_one_known_end_of_three_partitions_is_not_caught_up(tmp_path: Path) -> None:
    # A rebuild switched generations with 11 of 50 records: the first fetch answer had come
    # from one partition, whose end was reached, and the other two ends were not known yet.
    projector = consumer_loop(tmp_path / "views.db")
    projector.assigned = frozenset({0, 1, 2})
    projector.end_offsets = {0: 11}
    projector.applied = {0: 11}
    assert not projector.caught_up()
    assert not projector.ready(max_lag=1000)
    projector.end_offsets.update({1: 20, 2: 19})
    assert not projector.caught_up()
    assert projector.ready(max_lag=39)
    assert not projector.ready(max_lag=38)
    projector.applied.update({1: 20, 2: 19})
    assert projector.caught_up()


def test_nothing_assigned_is_neither_caught_up_nor_ready(tmp_path: Path) -> None:
    projector = consumer_loop(tmp_path / "views.db")
    assert not projector.caught_up()
    assert not projector.ready(max_lag=1000)


def _message(offset: int, event: ProductChange) -> Message:
    key = product_key(event.catalog_id, event.catalog_item_id)
    return Message(0, offset, key, codec.encode(event), list(headers.for_change(event)))


def test_a_batch_planned_while_the_one_before_is_written_sees_that_ones_states(
    tmp_path: Path,
) -> None:
    """The next batch is planned before the previous one is in the store: its items come from
    the previous plan, the others from the store (which that write does not change)."""
    loop = consumer_loop(tmp_path / "views.db")
    other = change("b", minute=0, price="5")
    loop.store.write("t", loop._plan([_message(0, other)], {}))
    first = loop._plan([_message(1, change("a", minute=1, price="1"))], {0: 1})
    second = loop._plan(
        [
            _message(2, change("a", minute=2, price="2")),
            _message(3, change("b", minute=1, price="5", name="B")),
        ],
        {0: 2},
        after=first,  # not written
    )
    a, b = second.items[("42", "a")], second.items[("42", "b")]
    assert isinstance(a, ItemState)
    assert isinstance(b, ItemState)
    assert (a.revision, a.current_price, b.revision, b.name) == (2, Decimal("2"), 2, "B")
    assert second.before[("42", "a")] == first.items[("42", "a")]
    assert [e.change.kind for e in second.feed] == [ChangeKind.PRICE_RISE]
    assert second.catalogs == {"42": CatalogDelta()}  # "a" counted by the first batch


class _SlowCommitConsumer:
    """What `_done` asks of aiokafka, with a commit that waits until the test lets it end."""

    def __init__(self, topic: str, ends: dict[int, int]) -> None:
        self._ends = {TopicPartition(topic, p): end for p, end in ends.items()}
        self.committing = asyncio.Event()
        self.release = asyncio.Event()

    def assignment(self) -> set[TopicPartition]:
        return set(self._ends)

    def highwater(self, tp: TopicPartition) -> int:
        return self._ends[tp]

    def last_stable_offset(self, tp: TopicPartition) -> int:
        return self._ends[tp]  # no transaction open

    def last_poll_timestamp(self, tp: TopicPartition) -> int:
        return int(time.time() * 1000)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committing.set()
        await self.release.wait()


async def test_applied_positions_are_never_shown_past_the_partition_ends(tmp_path: Path) -> None:
    """The status page read `applied` 1 and `end` 0 for a partition (a flaky status-page test):
    the batch was published, then the offsets were mirrored to Kafka (a round trip), and only
    after it were the ends updated. Ends now move with the positions, before any wait."""
    loop = consumer_loop(tmp_path / "views.db")
    topic = loop.settings.topic
    loop._positioned.add(0)  # assigned and read from the store, as any batch's partitions
    plan = loop._plan([_message(0, change("a", minute=1, price="1"))], {})
    consumer = _SlowCommitConsumer(topic, {0: 1})
    done = asyncio.ensure_future(loop._done(consumer, plan))
    await asyncio.wait_for(consumer.committing.wait(), 5)
    assert loop.applied == {0: 1}
    assert loop.end_offsets == {0: 1}
    assert loop.lag() == 0
    consumer.release.set()
    await done
