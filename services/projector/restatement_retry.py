"""Owed restatements written again until written: the consumer's hooks around the restatement
write (restatements_owed.py says which are owed and settled; the batch's transaction keeps them).

From start, beside the batches (a task of its own: `start_if_due`), a round writes the owed ones
that are due: each item's CURRENT state at its current position, at most `restate_retry_per_round`
of them, and settles the debts it read once Kafka acknowledged them. A failed round waits twice as
long before the next one (1 s up to `restate_retry_max_s`). A retry's restatement follows the
position rule like any other: if the item applied something after the position it restates, it is
ignored, and the projector restates again. Logs only when that changes: the first failed round, and
each round that wrote some.

A round runs while batches apply (awaited in the consumer loop, a round Kafka did not answer held
consumption back for `restate_timeout_s`: 46 s of a minute, measured with a writer that never
answers). That is safe because the store decides, not this process's memory: a round settles a debt
only at the position it read (a batch that owed the key again meanwhile owes it at its own
position), and only once Kafka acknowledged the write; a batch's newer record restated after a stale
retry is restated again when read (the position rule). `keys` is only a hint of what the store owes
(a key missing there is written by a later round anyway): the keys batches owe while the store's are
read are added to what is read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from projector.batch import BatchPlan, ItemKey
from projector.errors import ProjectorError
from projector.metrics import ProjectorMetrics
from projector.restatement_writer import RestatementWriter
from projector.restatements import Restatement
from projector.restatements_owed import restatement_of, settle_and_owe
from projector.settings import ProjectorSettings
from projector.store import ViewStore

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_DELAY_S = 1.0


class OwedRestatements:
    def __init__(
        self,
        settings: ProjectorSettings,
        store: ViewStore,
        metrics: ProjectorMetrics,
        writer: RestatementWriter,
        in_store_thread: Callable[..., Awaitable[Any]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._writer = writer
        self._run = in_store_thread
        self._clock = clock
        self.keys: set[ItemKey] | None = None  # owed, as far as this process knows; None: unread
        self._delay = FIRST_DELAY_S
        self._due = 0.0
        self._failing = False
        # Where the next round starts: the rounds go round the owed keys, so one that Kafka
        # keeps refusing holds back only the round it is in, not every other debt.
        self._after: ItemKey | None = None
        self._cycle_failed = False  # a round of this cycle round the owed keys failed
        self._size = settings.restate_retry_per_round  # halved by a failed round, regrown
        self._look_at = 0.0  # when to read the owed keys again while none is known
        # Sets collecting the keys batches owe while the owed keys are read or a round runs:
        # a read (or a round's paid keys) would otherwise forget a debt owed meanwhile.
        self._watching: list[set[ItemKey]] = []
        self._retrying: asyncio.Task[None] | None = None  # the round under way

    def start_if_due(self) -> None:
        """Start a round if one is due, as a task beside the batches: a round waits for Kafka
        (up to `restate_timeout_s` when it does not answer), which held consumption back when
        the consumer loop awaited it (the module's docstring says why beside them is safe)."""
        if (retrying := self._retrying) is not None:
            if not retrying.done():
                return
            self._retrying = None
            retrying.result()  # a round's unexpected failure ends the consumer, as inline
        if self.due():
            self._retrying = asyncio.create_task(self.retry_due())

    async def stopped(self) -> None:
        """The consumer stops: a round under way ends now. Its debts stay owed unless settled
        already (only once Kafka acknowledged), and its store work ends before this returns (a
        switch then copies the debts the old generation still holds)."""
        if self._retrying is None:
            return
        self._retrying.cancel()
        try:
            await self._retrying
        except asyncio.CancelledError:
            # The round's own end, unless this stop is cancelled too (its bound ran out:
            # Runtime.stop_live_consumer): that one is not swallowed.
            if (current := asyncio.current_task()) is not None and current.cancelling():
                raise
        except Exception as exc:  # stopping anyway; the debts stay owed in the store
            log.warning("owed restatements: a round failed as the consumer stopped: %r", exc)
        finally:
            self._retrying = None
        await self._run(lambda: None)  # the store thread: a settle the round started has ended

    def due(self) -> bool:
        """Whether `retry_due` would do something now (no store read, no wait)."""
        if self.keys is None:
            return True
        if not self.keys:
            return self._clock() >= self._look_at
        return self._clock() >= self._due

    async def _read_keys(self) -> set[ItemKey]:
        owed_meanwhile: set[ItemKey] = set()
        self._watching.append(owed_meanwhile)
        try:
            read: set[ItemKey] = await self._run(self._store.owed_keys)
        finally:
            self._watching.remove(owed_meanwhile)
        self.keys = read | owed_meanwhile
        self._metrics.restatements_owed.set(len(self.keys))
        return self.keys

    async def known(self) -> set[ItemKey]:
        """The keys owed, as far as this process knows: read from the store at the first call,
        and again now and then while none is known."""
        # Read at start, and again now and then while this process owes nothing: on a shared
        # store another instance may have left debts (it stopped for good), which only this
        # one's retry can then write while the product stays quiet.
        if self.keys is None or (not self.keys and self._clock() >= self._look_at):
            self._look_at = self._clock() + self._settings.restate_retry_max_s
            return await self._read_keys()
        return self.keys

    async def write(
        self, plan: BatchPlan, found: list[Restatement], keep_from: dict[int, int] | None = None
    ) -> None:
        """The batch's restatements: those not written become owed with the batch, and the
        owed keys it judges again (at or past `keep_from`) are settled with it."""
        keys = await self.known()
        failed = await self._writer.write(found)
        if self.keys is not None:  # a round may have read them again meanwhile
            keys = self.keys
        settle_and_owe(plan, failed, keys, keep_from)
        for owed_meanwhile in self._watching:
            owed_meanwhile.update(plan.owe)
        keys.difference_update(plan.settle)
        if plan.owe and not keys:
            self._due = self._clock() + self._delay  # a new debt: not at once, Kafka just refused
        keys.update(plan.owe)
        self._metrics.restatements_owed.set(len(keys))

    async def retry_due(self) -> None:
        """One round of owed restatements, if some are owed and due."""
        try:
            keys = await self.known()
            if not keys or self._clock() < self._due:
                return
            await self._round()
        except ProjectorError as exc:  # the store: try again later, the views are unaffected
            self._failed(f"view store: {exc}")

    async def _round(self) -> None:
        owed_meanwhile: set[ItemKey] = set()  # by batches: not paid by this round
        self._watching.append(owed_meanwhile)
        try:
            await self._round_watched(owed_meanwhile)
        finally:
            self._watching.remove(owed_meanwhile)

    async def _round_watched(self, owed_meanwhile: set[ItemKey]) -> None:
        most, start = self._size, self._after
        owed = await self._run(self._store.owed_restatements, most, start)
        self._after = owed[-1][0] if len(owed) == most else None
        if owed:
            known = await self._run(self._store.load_items, [key for key, _ in owed])
            found = [r for key, _ in owed if (r := restatement_of(key, known.get(key)))]
            if await self._writer.write(found, retry=True):
                if len(owed) > 1:  # maybe one refused for good: halve the round, same start,
                    self._size, self._after = max(1, len(owed) // 2), start  # to single it out
                self._failed("kafka refused or did not answer in time")
                return
            self._size = min(self._settings.restate_retry_per_round, self._size * 2)
            await self._run(self._store.settle_owed, owed)
            log.info("owed restatements written", extra={"restatements": len(found)})
        if self._after is None:  # a cycle round the owed keys ends: with no failure, all paid
            if not self._cycle_failed:
                self._failing, self._delay = False, FIRST_DELAY_S
            self._cycle_failed = False
        self._due = 0.0
        if self._after is None or self.keys is None:  # a cycle's end: all the store owes
            await self._read_keys()
        else:  # mid-cycle, these are paid: not every owed key read again each round (N^2)
            self.keys.difference_update({key for key, _ in owed} - owed_meanwhile)
            self._metrics.restatements_owed.set(len(self.keys))

    def _failed(self, why: str) -> None:
        self._due = self._clock() + self._delay
        self._cycle_failed = True
        if not self._failing:
            log.warning(
                "owed restatements not written yet, retrying until written: %s",
                why,
                extra={"owed": len(self.keys or ()), "retry_in_s": self._delay},
            )
            self._failing = True
        self._delay = min(self._delay * 2, self._settings.restate_retry_max_s)
