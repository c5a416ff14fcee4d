"""How the consumer loop writes a batch: alone, or while the records fetched after it are read
and planned (consumer_planning.py), or record by record once the store refused it; and what a
committed batch then tells: its readers answered, the lag, the verdicts counted, the offsets
mirrored for the tools (consumer_progress.py). The consumer loop (consumer.py) mixes this in and
decides, batch by batch, which of these to do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer

from projector.batch import BatchPlan
from projector.consumer_ahead import CATCHUP_FACTOR, Ahead, batch_records
from projector.consumer_keeping import BatchKeeping
from projector.consumer_planning import BatchPlanning
from projector.errors import StoreRefused


class BatchWriting(BatchPlanning, BatchKeeping):
    """Mixed into ConsumerLoop (the state it uses is declared by the mixins it extends)."""

    catchup_factor = CATCHUP_FACTOR  # consumer_ahead.batch_records (1: batches never grow)

    if TYPE_CHECKING:  # ConsumerLoop's other mixin, TopicBehind, has it

        async def _fetch(
            self, consumer: AIOKafkaConsumer, timeout_ms: int, max_records: int
        ) -> list[Any]: ...

    async def _apply(
        self, raw: Iterable[Any], applied: dict[int, int], refused: str | None = None
    ) -> BatchPlan:
        """Plan the batch, keep and restate, then write the batch and its offsets in one
        transaction."""
        plan: BatchPlan = await self._in_store_thread(self._plan, raw, applied, refused)
        await self._keep_and_restate(plan)
        if plan.next_offsets:
            await self._in_store_thread(self.store.write, self.settings.topic, plan)
        return plan

    def _batch_records(self) -> int:
        """The next batch's size: bigger while the live views catch up (a rebuild's load keeps
        its batches: bigger ones were measured slower there, README round five)."""
        most = self.settings.batch_max_records
        if self.feed_from is not None:
            return most
        return batch_records(most, self.lag(), self.catchup_factor)

    async def _write_and_fetch_ahead(
        self, consumer: AIOKafkaConsumer, plan: BatchPlan
    ) -> Ahead | None:
        """Write the batch; meanwhile read and plan the records already fetched after it (the
        store thread's SQL and the planner's Python overlap), on top of its plan: dropped unless
        this write succeeds. Caught up (not a full batch), what was fetched during the write
        joins them, planned again: it no longer waits for the batch after (README: freshness)."""
        if not plan.next_offsets:
            return None
        writing = self._writing = asyncio.ensure_future(
            self._in_store_thread(self.store.write, self.settings.topic, plan)
        )
        ahead, most = None, self._batch_records()
        # Where the store stands once the write ends, taken now: a rebalance revoking as the
        # write ends pops `applied` (the listener waits for the write) before the re-plan.
        after = {**self.applied, **plan.next_offsets}
        try:
            raw = await self._fetch(consumer, 0, most)
            if raw:
                ahead = self._start_plan(raw, after, plan)
            await writing
            # Committed: its readers are answered now, not once the batch after it is planned
            # (below, `ahead.dropped()` waits for that plan: the slowest readers' largest wait).
            self._written(consumer, plan)
            if ahead is not None and len(raw) < most:
                more = await self._fetch(consumer, 0, most - len(raw))
                if more:
                    await ahead.dropped()
                    ahead = self._start_plan(raw + more, {**self.applied, **after}, plan)
        except BaseException:
            if ahead is not None:
                await ahead.dropped()
            raise
        finally:
            self._writing = None
        return ahead

    async def _apply_one_by_one(self, consumer: AIOKafkaConsumer, raw: list[Any]) -> None:
        """The store refused something in this batch: apply its records one at a time, and
        dead-letter the one it refuses instead of trying the same batch forever."""
        for message in raw:
            try:
                plan = await self._apply([message], dict(self.applied))
            except StoreRefused as exc:
                plan = await self._apply([message], dict(self.applied), refused=str(exc))
            await self._done(consumer, plan)

    def _written(self, consumer: AIOKafkaConsumer, plan: BatchPlan) -> None:
        """The batch is committed: keep, answer its readers, update the lag (all three again
        are no-ops, so `_done` repeats them for batches written elsewhere)."""
        self._kept(plan, written=True)
        # Only the partitions still where the batch was planned from: one revoked since (the
        # listener pops it once the write ends, maybe before this) is not this loop's to
        # publish, and one assigned again was read from the store, maybe further (another
        # instance applied it meanwhile): the batch's position would move `applied` back.
        self.publish({
            p: o for p, o in plan.next_offsets.items()
            if p in self._positioned and self.applied.get(p, 0) == plan.planned_from.get(p, 0)
        })  # fmt: skip
        self._update_lag(consumer)  # before any wait: no reader sees a position past its end

    async def _done(self, consumer: AIOKafkaConsumer, plan: BatchPlan) -> None:
        self._written(consumer, plan)
        self._written_again()
        self._count(plan)
        async with self.progress:
            self.progress.notify_all()
        await self._commit_for_tools(consumer, plan)
