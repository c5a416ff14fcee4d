"""How the consumer loop reads a batch of fetched records and plans it (batch.py): on a thread of
its own, while the batch before is written, on top of that batch's plan. The consumer loop
(consumer.py) mixes this in."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from projector.batch import BatchPlan, ItemKey, plan_batch
from projector.consumer_ahead import Ahead
from projector.delivery import DeliveryStats
from projector.item_state import Known
from projector.records import Incoming, Unreadable, read_record
from projector.store import ViewStore


class BatchPlanning:
    """Mixed into ConsumerLoop, which sets these in its __init__."""

    store: ViewStore
    delivery: DeliveryStats | None  # only the live consumer counts postbacks
    feed_from: dict[int, int] | None  # a rebuild: feed no change below these offsets (batch.py)
    _plan_thread: ThreadPoolExecutor

    def _plan(
        self,
        raw: Iterable[Any],
        applied: dict[int, int],
        refused: str | None = None,
        after: BatchPlan | None = None,
    ) -> BatchPlan:
        """Runs in a worker thread: read the records and what the store knows of their items.
        `refused`: the store refused these records, so they are dead letters for that reason.
        `after`: the batch before this one, maybe still being written: its items are known from
        its plan (what it read and what it makes of them), the others from the store, which
        that write does not change."""
        raw = list(raw)
        records = [read_record(m.partition, m.offset, m.key, m.value, m.headers) for m in raw]
        if self.delivery is not None:
            self.delivery.observe(zip(records, [m.headers for m in raw], strict=True))
        if refused is not None:
            records = [
                Unreadable(m.partition, m.offset, refused, m.key, m.value, tuple(m.headers or ()))
                for m in raw
            ]
        keys = {(r.catalog_id, r.item_id) for r in records if isinstance(r, Incoming)}
        if after is not None:
            keys -= after.before.keys()  # every item of `after` is in its `before`
        # one query per few hundred items, not one each
        known: dict[ItemKey, Known] = dict(self.store.load_items(keys))
        if after is not None:
            known.update(after.before)
            known.update(after.items)
        return plan_batch(records, applied, known.get, self.feed_from)

    def _start_plan(
        self, raw: list[Any], applied: dict[int, int], after: BatchPlan | None = None
    ) -> Ahead:
        loop = asyncio.get_running_loop()
        work = functools.partial(self._plan, raw, applied, None, after)
        return Ahead(raw, loop.run_in_executor(self._plan_thread, work))
