"""Readers waiting for the views to reach a position (read-your-writes, `min_position`).

Each waiter has a future of its own, resolved by the batch that applies its position right
after that batch is committed. An `asyncio.Condition` woke every waiter on every batch, and each
then queued for the condition's lock to test its position: one loop turn per waiter, per
batch, whether its position was reached or not. At 1,000 postbacks/s (a few hundred readers
waiting) that queue alone delayed answers by tens of milliseconds, and the consumer's own
notification queued behind it. Here a batch wakes exactly the readers it satisfies, at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

# Abandoned waiters (timed out, their request gone) are dropped from the heaps in one sweep
# once they are this many and at least half of all entries: the heaps stay O(live waiters)
# however many readers ask for positions that never come, at O(1) amortised per waiter.
SWEEP_AT_LEAST = 1024
# A position past the partition count is refused only on a count asked of Kafka after the read
# came: the count comes from the live consumer's metadata, which aiokafka refreshes every
# `metadata_max_age_ms` (it was 5 minutes, now 30 s), and partitions added meanwhile were
# refused as missing until then. One recount at a
# time, started at most every RECOUNT_EVERY_S and shared by every miss waiting for it (a reader
# asking for partition 10**9 again and again costs one metadata request a second), each given
# RECOUNT_WAIT_S (a broker that does not answer: the count known stands).
RECOUNT_EVERY_S = 1.0
RECOUNT_WAIT_S = 2.0


class _Waiter:
    __slots__ = ("future", "gone", "popped")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.gone = False  # its reader stopped waiting
        self.popped = False  # taken off its heap by `reached`


_Entry = tuple[int, int, _Waiter]  # offset, arrival (orders equal offsets), the waiter


class PositionWaiters:
    def __init__(self, sweep_at_least: int = SWEEP_AT_LEAST) -> None:
        self._sweep_at_least = sweep_at_least
        self._heaps: dict[int, list[_Entry]] = {}  # partition -> waiters, lowest offset first
        self._arrivals = itertools.count()
        self._entries = 0  # in the heaps, abandoned ones included
        self._abandoned = 0  # in the heaps, their readers gone
        # The topic's partition count as the live consumer's metadata last said (None: not
        # known yet). A position on a partition past it can never be reached: refused, not
        # waited for (the wait ended in a 504 saying "retry", forever).
        self.partitions: int | None = None
        self._recounted_at = -float("inf")  # when the last recount started (the loop's clock)
        self._next_recount: asyncio.Future[None] | None = None  # not started yet: misses join it
        self._recounts: set[asyncio.Future[None]] = set()  # held until done (the loop holds none)

    def unknown_partition(self, partition: int) -> str | None:
        """Why `partition` can never be reached (the topic has no such partition), or None."""
        count = self.partitions
        if count is None or partition < count:
            return None
        return f"the topic has no partition {partition} (it has {count}: 0 to {count - 1})"

    async def refusal(
        self, partition: int, recount: Callable[[], Awaitable[int | None]] | None
    ) -> str | None:
        """unknown_partition, once `recount` (the topic's partition count, asked of Kafka) said
        the count again, in a recount started after this call, if `partition` is past it."""
        refusal = self.unknown_partition(partition)
        if refusal is None or recount is None:
            return refusal
        if self._next_recount is None:
            self._next_recount = asyncio.ensure_future(self._recount(recount))
            self._recounts.add(self._next_recount)
            self._next_recount.add_done_callback(self._recounts.discard)
        # Shielded: a reader that leaves does not cancel the others' recount.
        next_recount = asyncio.shield(self._next_recount)
        await asyncio.wait([next_recount], timeout=RECOUNT_EVERY_S + RECOUNT_WAIT_S)
        return self.unknown_partition(partition)

    async def _recount(self, recount: Callable[[], Awaitable[int | None]]) -> None:
        loop = asyncio.get_running_loop()
        if (wait := self._recounted_at + RECOUNT_EVERY_S - loop.time()) > 0:
            await asyncio.sleep(wait)
        self._next_recount = None  # a miss from now on waits for a later one
        self._recounted_at = loop.time()
        try:
            if (count := await asyncio.wait_for(recount(), RECOUNT_WAIT_S)) is not None:
                self.partitions = count
        except Exception as exc:  # Kafka not answering in time: the count known stands
            log.warning("could not count the topic's partitions again: %r", exc)

    def __len__(self) -> int:
        """Readers waiting now."""
        return self._entries - self._abandoned

    async def wait(self, partition: int, offset: int, timeout_s: float) -> bool:
        """Whether a `reached` call held `offset` of `partition` (applied up to a next offset
        beyond it) within `timeout_s`."""
        waiter = _Waiter(asyncio.get_running_loop().create_future())
        entry = (offset, next(self._arrivals), waiter)
        heapq.heappush(self._heaps.setdefault(partition, []), entry)
        self._entries += 1
        try:
            async with asyncio.timeout(timeout_s):
                await waiter.future
            return True
        except TimeoutError:  # or reached in the very turn the time ran out
            return waiter.popped
        finally:
            if not waiter.popped:  # timed out or cancelled: its entry stays until swept
                waiter.gone = True
                self._abandoned += 1
                if self._abandoned >= self._sweep_at_least and self._abandoned * 2 >= self._entries:
                    self._sweep()

    def _sweep(self) -> None:
        for partition, heap in list(self._heaps.items()):
            live = [entry for entry in heap if not entry[2].gone]
            if live:
                heapq.heapify(live)
                self._heaps[partition] = live
            else:
                del self._heaps[partition]
        self._entries -= self._abandoned
        self._abandoned = 0

    def reached(self, applied: Mapping[int, int]) -> int:
        """Wake every waiter whose position `applied` (partition -> next offset the views
        expect) holds; returns how many were woken."""
        woken = 0
        for partition, heap in list(self._heaps.items()):
            upto = applied.get(partition)
            if upto is None:
                continue
            while heap and heap[0][0] < upto:
                waiter = heapq.heappop(heap)[2]
                waiter.popped = True
                self._entries -= 1
                if waiter.gone:
                    self._abandoned -= 1
                elif not waiter.future.done():
                    waiter.future.set_result(None)
                    woken += 1
            if not heap:
                del self._heaps[partition]
        return woken
