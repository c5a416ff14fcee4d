"""What a batch keeps in Kafka before it is written: its unreadable records as dead letters, and
the restatements compaction would otherwise lose (or, when Kafka refuses them, their debts, kept
with the batch: restatements_owed.py). Before the write, so a crash in between keeps again (the
same records: duplicates) rather than not at all; `kept` says how far that went, and is where the
next live consumer after a switch starts keeping (Runtime). The consumer loop mixes this in."""

from __future__ import annotations

from collections.abc import Callable

from projector.batch import BatchPlan
from projector.consumer_assignment import StoredPositions
from projector.dead_letter_writer import DeadLetterWriter
from projector.held_dead_letters import HeldDeadLetters
from projector.restatement_retry import OwedRestatements
from projector.restatement_writer import RestatementWriter
from projector.restatements import restatements
from projector.restatements_owed import at_or_past


class BatchKeeping(StoredPositions):
    """Mixed into ConsumerLoop, which sets these in its __init__."""

    restater: RestatementWriter | None  # only the live consumer restates; a rebuild only reads
    # Likewise (the live one kept them already); a rebuild's builder holds its own until the
    # switch (held_dead_letters.py).
    dead_letters: DeadLetterWriter | HeldDeadLetters | None
    owed: OwedRestatements | None  # restatements whose write failed, written again
    # Keep and restate only records at or past `keep_from[partition]` (0 if absent): what was
    # not kept before. A live consumer after a switch starts from its predecessor's `kept`; a
    # rebuild's builder reads it per batch from `keep_past`, the active generation's positions,
    # which every instance's live consumer kept (Runtime).
    keep_from: dict[int, int] | None
    keep_past: Callable[[], dict[int, int]] | None  # (read off the loop)
    # Dead-letter only records at or past these (0 if absent): below them another process
    # already did (a first catch-up's parts not merged: first_load.py). Restatements are not
    # held back: they depend on the views, which that process's differed from (duplicates).
    dead_letters_from: dict[int, int] | None

    async def _keep_and_restate(self, plan: BatchPlan) -> None:
        """Keep what the batch cannot apply, restate what compaction would lose: before the
        batch is written, so a crash in between restates again (the same event: a duplicate)
        rather than not at all."""
        unreadable = plan.unreadable
        owed = restatements(plan) if self.restater is not None else []
        if self.keep_past is not None:
            self.keep_from = await self._in_store_thread(self.keep_past)
        if (keep_from := self.keep_from) is not None:
            if isinstance(self.dead_letters, HeldDeadLetters):
                self.dead_letters.passed(keep_from)
            unreadable = [u for u in unreadable if at_or_past(u, keep_from)]
            owed = [r for r in owed if at_or_past(plan.last_records[r.key], keep_from)]
        if (written := self.dead_letters_from) is not None:
            unreadable = [u for u in unreadable if at_or_past(u, written)]
        writes = unreadable and isinstance(self.dead_letters, DeadLetterWriter)
        if writes or (owed and self.owed is not None):
            # Several instances: one switching the views holds the pointer; a batch it then
            # refuses must not have kept its records (the switch's builder, or whoever reads
            # the partition next, keeps them again: duplicates). Only batches that keep pay.
            await self._in_store_thread(self.store.check_active)
        if isinstance(self.dead_letters, HeldDeadLetters):
            await self.dead_letters.hold(unreadable)
        elif self.dead_letters is not None:
            await self.dead_letters.write(unreadable)
        if self.owed is not None:
            await self.owed.write(plan, owed, keep_from)
        self._kept(plan, written=False)

    def _kept(self, plan: BatchPlan, written: bool) -> None:
        """Move `kept` past the batch once, when nothing it owes Kafka can be lost: without
        debts, once its dead letters and restatements are written (a batch then refused as
        moved is not kept again by the follower); with debts, only once the batch that holds
        them is written (refused as moved, they would be in no store)."""
        if written == bool(plan.owe):
            # Never back: `_done` repeats this, maybe after the partition was assigned again and
            # `kept` read from the store, further (StoredPositions._seek_to_stored).
            for partition, offset in plan.next_offsets.items():
                self.kept[partition] = max(self.kept.get(partition, 0), offset)
