"""Folding a batch of records into the writes one transaction makes. Pure: the consumer passes a
lookup for items not yet seen in the batch; the plan then says everything the store writes (item
rows, removal markers, feed entries, catalog counts, offsets), and the store only executes it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from catalog_contract.events import Availability
from projector.item_fold import apply, removed
from projector.item_state import (
    IN_STOCK,
    ItemState,
    Known,
    NotableChange,
    Position,
    Removed,
    Verdict,
)
from projector.records import Incoming, Unreadable

ItemKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    change: NotableChange
    position: Position
    event_id: str | None


@dataclass
class BatchPlan:
    items: dict[ItemKey, Known] = field(default_factory=dict)  # what each item became
    before: dict[ItemKey, Known] = field(default_factory=dict)  # as stored
    feed: list[FeedEntry] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    planned_from: dict[int, int] = field(default_factory=dict)  # store positions assumed
    touched_catalogs: set[str] = field(default_factory=set)
    verdicts: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))
    unreadable: list[Unreadable] = field(default_factory=list)
    skipped_already_applied: int = 0
    last_records: dict[ItemKey, Incoming] = field(default_factory=dict)  # each item's newest
    again: set[ItemKey] = field(default_factory=set)  # items with more than one record here
    # Each item's first record here the fold ignored (stale, a repeat, a superseded
    # restatement; not an accepted restatement, which says the live state): restatements.py.
    ignored_from: dict[ItemKey, int] = field(default_factory=dict)
    catalogs: dict[str, CatalogDelta] = field(default_factory=dict)  # how their counts move
    # Each catalog's newest time an item state of the batch was received: of every state
    # applied, not only each item's last one, so that where batches are cut does not change
    # it (an item added, then removed in the same batch still dates its catalog's change).
    last_change_at: dict[str, datetime] = field(default_factory=dict)
    # Restatements this batch owes (their write failed): the key and the position of its last
    # record judged, kept with the batch; and the owed ones it settles (restatements_owed.py).
    owe: dict[ItemKey, Position] = field(default_factory=dict)
    settle: list[ItemKey] = field(default_factory=list)

    def present(self) -> list[ItemState]:
        """Items the batch leaves in the views (upserted)."""
        return [s for s in self.items.values() if isinstance(s, ItemState)]

    def gone(self) -> list[Removed]:
        """Items the batch leaves removed (their removal marker upserted)."""
        return [s for s in self.items.values() if isinstance(s, Removed)]

    def unmarked(self) -> list[ItemKey]:
        """Present items whose stored removal marker goes (re-added after a removal)."""
        return [
            k
            for k, s in self.items.items()
            if isinstance(s, ItemState) and isinstance(self.before.get(k), Removed)
        ]

    def dropped(self) -> list[ItemKey]:
        """Removed items whose stored row goes."""
        return [
            k
            for k, s in self.items.items()
            if isinstance(s, Removed) and isinstance(self.before.get(k), ItemState)
        ]


def plan_batch(
    records: Iterable[Incoming | Unreadable],
    applied_up_to: Mapping[int, int],
    lookup: Callable[[ItemKey], Known],
    feed_from: Mapping[int, int] | None = None,
) -> BatchPlan:
    """`applied_up_to[p]` is the next offset the store expects from partition p: anything
    below it was applied by an earlier transaction and is skipped (no double application).
    `feed_from[p]`: the changes of records below it are not fed (a rebuild: the generation it
    replaces announced them already, and its feed is the one kept)."""
    plan = BatchPlan()
    for record in records:
        if record.offset < plan.next_offsets.get(
            record.partition, applied_up_to.get(record.partition, 0)
        ):
            plan.skipped_already_applied += 1
            continue
        if record.partition not in plan.planned_from:
            plan.planned_from[record.partition] = applied_up_to.get(record.partition, 0)
        plan.next_offsets[record.partition] = record.offset + 1
        if isinstance(record, Unreadable):
            plan.unreadable.append(record)
            continue
        key = (record.catalog_id, record.item_id)
        plan.last_records[key] = record
        if key not in plan.before:
            plan.before[key] = lookup(key)
        else:
            plan.again.add(key)
        previous = plan.items[key] if key in plan.items else plan.before[key]
        at = Position(record.partition, record.offset)
        fed = feed_from is None or record.offset >= feed_from.get(record.partition, 0)
        if record.change is None:
            outcome = removed(
                previous,
                record.tombstone_source_updated_at,
                at,
                key,
                record.restates,
                record.tombstone_event_id,
            )
        else:  # a change the feed will not hold is not worked out (a rebuild: most of them)
            outcome = apply(previous, record.change, at, record.restates, fed)
        plan.verdicts[outcome.verdict] += 1
        if outcome.verdict is not Verdict.APPLIED:
            if record.restates is None or outcome.verdict is not Verdict.DUPLICATE:
                plan.ignored_from.setdefault(key, record.offset)
            if record.restates is None and (judged := _judged_up_to(outcome.state, at)):
                plan.items[key] = judged
            continue
        plan.items[key] = outcome.state
        plan.touched_catalogs.add(record.catalog_id)
        if isinstance(state := outcome.state, ItemState):  # (every applied state, not the last)
            newest = plan.last_change_at.get(record.catalog_id)
            if newest is None or state.received_at > newest:
                plan.last_change_at[record.catalog_id] = state.received_at
        if outcome.changes and fed:
            event_id = None if record.change is None else str(record.change.event_id)
            plan.feed.extend(FeedEntry(change, at, event_id) for change in outcome.changes)
    plan.catalogs = catalog_deltas(plan)
    return plan


def _judged_up_to(state: Known, at: Position) -> Known:
    """The item's state now says the topic up to `at` (a stale or repeated record judged and
    ignored), so a restatement of it must restate `at`: a replay of the compacted topic may
    start at that record (the cleaner keeps a suffix of each key's records), and it applies
    there. None if nothing moves (an item never seen, or a position not after the state's)."""
    if state is None or (state.partition, state.offset) >= (at.partition, at.offset):
        return None
    return dataclasses.replace(state, partition=at.partition, offset=at.offset)


@dataclass(frozen=True, slots=True)
class CatalogDelta:
    items: int = 0
    in_stock: int = 0
    out_of_stock: int = 0


def catalog_deltas(plan: BatchPlan) -> dict[str, CatalogDelta]:
    """How each touched catalog's counts move, from each item's state before and after (added
    up in plain integers: three objects per item were most of this per-batch step)."""
    sums: dict[str, list[int]] = {}
    before = plan.before
    for key, after in plan.items.items():
        counts = sums.get(key[0])
        if counts is None:
            counts = sums[key[0]] = [0, 0, 0]
        for state, sign in ((after, 1), (before.get(key), -1)):
            if isinstance(state, ItemState):
                availability = state.stock_availability
                counts[0] += sign
                if availability in IN_STOCK:
                    counts[1] += sign
                elif availability is Availability.OUT_OF_STOCK:
                    counts[2] += sign
    return {catalog_id: CatalogDelta(*counts) for catalog_id, counts in sums.items()}
