"""A topic that holds fewer records than the views applied from it: deleted and created again
under the same name, or a partition that lost committed records (an unclean leader election).

Its new records sit at offsets the views take for applied: the consumer, sent back to the start
by Kafka (the views' position is past the end), skipped each of them as a duplicate, for ever,
while /readyz said ready at lag 0. Postbacks acknowledged with a 200 never reached the views.
Now a partition whose end (high watermark) stays below the views' position there for
BEHIND_CONFIRM_S is paused: nothing more is applied from it, /readyz answers 503 saying what
happened and what mends it (a rebuild, which reads the topic as it now is into new views), the
`projector_topic_behind_views` gauge is 1, and one ERROR line says it. The wait rides out a new
leader's high watermark, which may trail the records already committed for a moment after a
failover. It stays so until the views are rebuilt: were the new topic to grow past the old
position, the records below it would still have been skipped. The rebuild finds such partitions
itself (`rebuild_recreated.py`: every instance's; and those this instance's consumer said,
though grown past the position since) and builds them as the topic now is: the old
generation's positions there, which the switch otherwise waits for, feeds past and keeps past,
are dropped (`without`).

A fetch at the views' position that Kafka answers "out of range" is a sure sign, said at once
(`_fetch`: the consumer resets no position itself), so a topic refilled past the views' position
within the confirmation is said too (attack33). Kafka's topic ids would tell a recreated topic
in every case, but aiokafka does not read them: a topic recreated and filled past the views'
position while no projector fetched from it is not seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Set
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, NoOffsetForPartitionError, OffsetOutOfRangeError

from projector.consumer_ahead import in_order
from projector.consumer_fetch import getmany
from projector.errors import ProjectorError
from projector.metrics import ProjectorMetrics
from projector.settings import ProjectorSettings
from projector.store import ViewStore

log = logging.getLogger(__name__)
BEHIND_CONFIRM_S = 10.0


def overtaken(
    ends: Mapping[int, int], applied: Mapping[int, int], positioned: Set[int]
) -> dict[int, tuple[int, int]]:
    """Per partition whose end is below the views' position there: (that position, the end).
    Only partitions positioned from the store count (elsewhere `applied` is not yet read)."""
    return {
        p: (applied[p], end)
        for p, end in sorted(ends.items())
        if p in positioned and applied.get(p, 0) > end
    }


def behind_text(topic: str, behind: Mapping[int, tuple[int, int]]) -> str:
    """What /readyz says of the partitions found behind: which, by how much, and the remedy."""
    where = "; ".join(
        f"partition {p} ends at offset {end:,}, the views hold records up to {position:,}"
        if end < position
        else f"partition {p} ended below offset {position:,}, up to which the views hold its "
        f"records, and was filled to {end:,} since"
        for p, (position, end) in sorted(behind.items())
    )
    return (
        f"topic {topic} holds fewer records than the views applied from it ({where}): it was "
        "deleted and created again, or lost records; nothing more is applied from those "
        "partitions until the views are rebuilt from the topic (catalog-stream rebuild)"
    )


OutOfRange = Literal["behind", "removed", "from the start", "in range"]


def out_of_range(offset: int, start: int, end: int, views_at: int | None) -> OutOfRange:
    """What it means that Kafka said a fetch `offset` out of range, given the log's bounds
    looked up after (`start`, `end`) and the views' position there (`views_at`: None until the
    store's was read, the position the fetch then came from being a group offset, a mirror):
    - "behind": the views hold records of the partition and the log ended below the fetch when
      Kafka said so (a start only grows), whatever it holds now: refilled since, its records
      below the views' position would be skipped as applied (attack33). The topic was recreated
      or lost records (an unclean leader election);
    - "removed": below the start, at the store's position: retention or delete_records removed
      records the views never applied; nothing has them any more (go on from the start);
    - "from the start": a mirror's offset, or views holding nothing there: as "earliest" did;
    - "in range": the mirror's offset is in the log now: fetched again."""
    if offset < start:
        return "from the start" if views_at is None else "removed"
    if not views_at:
        return "from the start" if offset > end else "in range"
    return "behind"


class TopicBehind:
    """Mixed into ConsumerLoop, which sets these in its __init__ (and `behind`, `_behind_since`
    empty: a rebuild's new generation starts afresh)."""

    settings: ProjectorSettings
    metrics: ProjectorMetrics
    store: ViewStore
    _in_store_thread: Callable[..., Awaitable[Any]]
    applied: dict[int, int]
    end_offsets: dict[int, int]
    _positioned: set[int]
    behind: dict[int, tuple[int, int]]  # partition -> (the views' position, the end) found
    _behind_since: dict[int, float]  # partition -> when its end was first seen below it
    _removed_said: dict[int, int]  # partition -> the position whose removed records were said
    _behind_unkept: dict[int, float]  # partition said behind -> when to try keeping it again

    def topic_behind(self) -> str | None:
        return behind_text(self.settings.topic, self.behind) if self.behind else None

    async def _watch_behind(self, consumer: AIOKafkaConsumer) -> None:
        """After each fetch round: partitions whose end stayed below the views' position for
        BEHIND_CONFIRM_S are declared behind and paused (again after a rebalance)."""
        now = time.monotonic()
        for p, due in list(self._behind_unkept.items()):
            if now >= due:
                await self._keep_behind(p)
        seen = overtaken(self.end_offsets, self.applied, self._positioned)
        for p in list(self._behind_since):
            if p not in seen:
                del self._behind_since[p]  # (a failover's trailing high watermark: caught up)
        for tp in list(consumer.assignment()):
            p = tp.partition
            if p not in self.behind and p in seen:
                since = self._behind_since.setdefault(p, now)
                if now - since < BEHIND_CONFIRM_S:
                    continue
                await self._say_behind(p, *seen[p])
            if p in self.behind and tp in consumer.assignment():  # (revoked meanwhile: not)
                consumer.pause(tp)

    async def _say_behind(self, p: int, views_at: int, topic_ends_at: int) -> None:
        self.behind[p] = (views_at, topic_ends_at)
        self.metrics.topic_behind.labels(str(p)).set(1)
        log.error(
            "the topic holds fewer records than the views: partition paused",
            extra={"partition": p, "views_at": views_at, "topic_ends_at": topic_ends_at},
        )
        await self._keep_behind(p)

    async def _keep_behind(self, p: int) -> None:
        """Kept with the views: said again after a restart, on another instance (attack35).
        Until the store takes it, tried again every second: said here all the same meanwhile,
        but a restart forgot it (test_projector_behind_kept_later)."""
        try:
            await self._in_store_thread(
                self.store.say_behind, self.settings.topic, p, *self.behind[p]
            )
        except ProjectorError as exc:
            if p not in self._behind_unkept:
                log.warning("could not keep in the views that a partition is behind (trying "
                            "again every second): %s", exc, extra={"partition": p})  # fmt: skip
            self._behind_unkept[p] = time.monotonic() + 1.0
            return
        if self._behind_unkept.pop(p, None) is not None:
            log.info("kept in the views that a partition is behind", extra={"partition": p})

    async def _fetch(
        self, consumer: AIOKafkaConsumer, timeout_ms: int, max_records: int
    ) -> list[Any]:
        """The records fetched, in order. The consumer resets no position itself
        (auto_offset_reset "none", consumer_assignment.py): a fetch position past the log's end
        is Kafka saying the log no longer holds records it had, at once and for sure, where
        the end seen below the views is a sign to confirm (a failover's trailing high
        watermark). "earliest" hid it: the consumer went back to the start and skipped the new
        records as applied, and a topic refilled past the views within the confirmation was
        never said (attack33)."""
        try:
            return in_order(await getmany(consumer, timeout_ms, max_records))
        except NoOffsetForPartitionError as exc:
            # Just assigned, no group offset, not yet sought to the store's position: from the
            # start, as "earliest" did (the listener then seeks; a batch planned from the start
            # meanwhile is dropped, _planned_where_stored).
            unsought = [tp for tp in exc.args if tp in consumer.assignment()]
            if unsought:  # (none named would seek every partition)
                await consumer.seek_to_beginning(*unsought)
        except OffsetOutOfRangeError as exc:
            await self._out_of_range(consumer, exc.args[0] if exc.args else {})
        return []

    async def _out_of_range(
        self, consumer: AIOKafkaConsumer, positions: Mapping[TopicPartition, int]
    ) -> None:
        try:
            starts = await consumer.beginning_offsets(list(positions))
            ends = await consumer.end_offsets(list(positions))
        except KafkaError as exc:  # (asked again at the next fetch, which fails the same way)
            log.warning("a fetch position is out of range; its bounds not known yet: %r", exc)
            return
        for tp, offset in positions.items():
            p = tp.partition
            # Sought since (the listener, to the store's position; a rebalance), the answer was
            # about a position no longer fetched from, maybe the group's: judged against the
            # views' position, it said them behind (attack35). The next fetch says the rest.
            if not await _still_at(consumer, tp, offset) or tp not in consumer.assignment():
                continue
            views_at = self.applied.get(p, 0) if p in self._positioned else None
            verdict = out_of_range(offset, starts[tp], ends[tp], views_at)
            if verdict == "behind":
                if p not in self.behind:
                    await self._say_behind(p, max(offset, views_at or 0), ends[tp])
                if tp in consumer.assignment():  # (revoked during the store's write: not)
                    consumer.pause(tp)
            elif verdict != "in range":
                # (said once: a fetch sent before the seek below fails the same way again)
                if verdict == "removed" and self._removed_said.get(p) != offset:
                    self._removed_said[p] = offset
                    removed = {"partition": p, "from": offset, "to": starts[tp]}
                    log.warning("records the views had not applied were removed from the topic",
                                extra=removed)  # fmt: skip
                await consumer.seek_to_beginning(tp)


async def _still_at(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> bool:
    """Whether the consumer fetches `tp` from `offset` still (a reset under way: not)."""
    try:
        position: int = await asyncio.wait_for(consumer.position(tp), 0.05)
    except (TimeoutError, KafkaError):  # (KafkaError: no longer assigned)
        return False
    return position == offset
