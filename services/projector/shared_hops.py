"""Item reads that go to a worker thread together: one hop for every reader waiting at once.

While the consumer applies records, an item read leaves the event loop for a worker thread
(hot_reads.Reads.item_body says why). A batch that applies the positions read-your-writes
readers wait for wakes them all in one turn, and each then made a hop of its own: a thread
hand-off and a call back to the loop, each waiting its turn for the GIL against the consumer's
decoding and planning thread (up to the 5 ms switch interval per hand-off). At 1,000
postbacks/s that queue of hops was the largest step from a 200 to its answer (31 of the slowest
records' 78 ms, measured by the stop-23 freshness probe). Here the readers that ask while a hop
is under way share the next one: the point reads themselves are ~25 us each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from projector.batch import ItemKey
from projector.store_reads import StoreReads

Row = tuple[Any, ...] | None
_Asked = tuple[ItemKey, "asyncio.Future[Row]"]

# A hop reads at most this many items, so the first reader of a crowd is not held for all.
MOST_PER_HOP = 64


def _read_each(store: StoreReads, keys: list[ItemKey]) -> list[Row | Exception]:
    """Each key's row, or the exception its read raised (it fails that reader alone)."""
    found: list[Row | Exception] = []
    for key in keys:
        try:
            found.append(store.item_row(key))
        except Exception as exc:
            found.append(exc)
    return found


class SharedHops:
    def __init__(
        self, store_of: Callable[[], StoreReads], most_per_hop: int = MOST_PER_HOP
    ) -> None:
        self._store_of = store_of  # read at each hop: a rebuild's switch replaces the store
        self._most = most_per_hop
        self._asked: list[_Asked] = []
        self._hopping: asyncio.Task[None] | None = None
        self.hops = 0  # worker-thread hops made (for the tests and the curious)

    async def item_row(self, key: ItemKey) -> Row:
        future: asyncio.Future[Row] = asyncio.get_running_loop().create_future()
        self._asked.append((key, future))
        if self._hopping is None:
            self._hopping = asyncio.create_task(self._hop_while_asked())
        return await future

    async def _hop_while_asked(self) -> None:
        taken: list[_Asked] = []
        try:
            while self._asked:
                taken, self._asked = self._asked[: self._most], self._asked[self._most :]
                self.hops += 1
                found = await asyncio.to_thread(
                    _read_each, self._store_of(), [key for key, _ in taken]
                )
                for (_, future), row in zip(taken, found, strict=True):
                    if future.done():  # its reader has gone (request cancelled)
                        continue
                    if isinstance(row, Exception):
                        future.set_exception(row)
                    else:
                        future.set_result(row)
                taken = []
        except Exception as exc:  # the hop itself failed (no worker thread): every reader of it
            self._settle_all(taken, exc)
        except BaseException:  # cancelled (shut-down): no reader is left waiting for ever
            self._settle_all(taken, None)
            raise
        finally:
            self._hopping = None

    def _settle_all(self, taken: list[_Asked], failure: Exception | None) -> None:
        """Fail (or, without a failure, cancel) every reader taken or asking."""
        for _, future in taken + self._asked:
            if future.done():
                continue
            if failure is None:
                future.cancel()
            else:
                future.set_exception(failure)
        self._asked = []
