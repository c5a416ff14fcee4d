"""What the view fold works on and gives: an item's state, a removal's marker, a position of the
topic, the fold's verdict and the notable changes it finds. Plain data; the rules that make them
are in item_fold.py."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from catalog_contract.events import (
    PRODUCT_FIELDS,
    Availability,
    ChangeType,
    ProductChange,
    ProductFields,
)
from catalog_contract.frozen_build import builder, field_names

MERGED_FIELDS = PRODUCT_FIELDS  # every field a postback may carry, or leave out

IN_STOCK = frozenset({Availability.IN_STOCK, Availability.LIMITED_AVAILABILITY})


@dataclass(frozen=True, slots=True)
class Position:
    partition: int
    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemState(ProductFields):
    """An item as the views know it: the merged fields, and where they came from."""

    catalog_id: str
    item_id: str
    # The last applied event's id, then those of the events applied before it at the same
    # source time, newest first, space-separated, at most TIED_IDS_KEPT (item_fold: a retry of
    # any of them is a repeat). One column, so the stores and the rows keep their shape; the
    # read API answers the first (newest_event_id).
    last_event_id: str
    received_at: datetime
    partition: int
    offset: int
    revision: int
    source_updated_at: datetime | None = None


TIED_IDS_KEPT = 8  # ids of events of one source time remembered per item (~300 bytes)


def with_id(event_ids: str, event_id: str | None, at: int = 0) -> str:
    """The ids of one source time, newest first, with `event_id` put at index `at` (0: the
    event applied; 1: a copy's, after the applied one's, which the read API serves) and taken
    out of where it was; the oldest beyond TIED_IDS_KEPT are forgotten. The earlier ones stay:
    a retry of one, landing after a newer event of the time (its 200 lost, the platform sent
    the next change, then retried), is a repeat, not the newer change (the tie would go to its
    later offset). No `event_id` (a tombstone without the header): the ids as they are."""
    if event_id is None:
        return event_ids
    ids = [i for i in event_ids.split() if i != event_id]
    ids.insert(at, event_id)
    return " ".join(ids[:TIED_IDS_KEPT])


def newest_event_id(event_ids: str) -> str:
    """The last applied event's id, of an ItemState's `last_event_id`."""
    return event_ids.partition(" ")[0]


def ids_at(state: Known, source_updated_at: datetime | None) -> str:
    """The ids of the events the item applied at `source_updated_at` (a removed item: at its
    removal's), newest first: none if it is not the item's time."""
    if state is None or state.source_updated_at != source_updated_at:
        return ""
    return state.last_event_id if isinstance(state, ItemState) else state.event_ids


def applied_at_its_time(state: ItemState | Removed, event_id: str) -> bool:
    """Whether the item applied the event `event_id` at its current source time (a removed
    item: at its removal's)."""
    ids = state.last_event_id if isinstance(state, ItemState) else state.event_ids
    return ids == event_id or (" " in ids and event_id in ids.split(" "))


def repeats_a_removal(state: ItemState | Removed, event_id: str) -> bool:
    """Whether a tombstone with `event_id` is a repeat: its removal's record (the event, or the
    tombstone, or their retry) was applied at the item's time. Never the item's newest applied
    event, an update (a re-add's id comes before the removal's it keeps): a tombstone naming
    it is a tool's, its headers copied from the key's last record, and it removes the item (as
    it did before tombstones were read with their id: test_attack38a_tombstone_ids.py)."""
    if isinstance(state, ItemState) and newest_event_id(state.last_event_id) == event_id:
        return False
    return applied_at_its_time(state, event_id)


def removed_again(previous: ItemState | Removed, change: ProductChange) -> TypeGuard[ItemState]:
    """Whether `change`, whose id the item applied at its time, is an untimed removal its
    re-added item keeps the id of: the platform's same removal sent again, which the receiver
    wrote again after the re-add (issue 9, defect 2), so it removes the item. Without a time the
    topic's order is all there is; a timed one tying the re-add is its retry (a duplicate)."""
    removal = change.change_type is ChangeType.REMOVED and change.source_updated_at is None
    return removal and isinstance(previous, ItemState)


@dataclass(frozen=True, slots=True)
class Removed:
    """What the views remember of a removed item: enough to refuse older retries."""

    catalog_id: str
    item_id: str
    source_updated_at: datetime | None
    partition: int
    offset: int
    # The ids of the events applied at its source time, as an ItemState's `last_event_id`: the
    # removal's, and the item's before it if the removal kept its time; none of a tombstone
    # (no id), nor of a marker stored before they were kept. So a retry tying the removal's
    # time is a repeat, and a re-add of that time keeps them (the removal's retry too).
    event_ids: str = ""


# ItemState(**fields) without its __init__, every field by position in this order: the merged
# fields, then catalog_id, item_id, last_event_id, received_at, partition, offset, revision and
# source_updated_at (per record of a catch-up, twice: read back, and folded).
build_state = builder(ItemState)
assert field_names(ItemState) == (*MERGED_FIELDS, "catalog_id", "item_id", "last_event_id",
    "received_at", "partition", "offset", "revision", "source_updated_at")  # fmt: skip

Known = ItemState | Removed | None  # what the store knows of one item


class ChangeKind(enum.StrEnum):
    ITEM_ADDED = "item_added"
    ITEM_REMOVED = "item_removed"
    PRICE_DROP = "price_drop"
    PRICE_RISE = "price_rise"
    BACK_IN_STOCK = "back_in_stock"
    OUT_OF_STOCK = "out_of_stock"


@dataclass(frozen=True, slots=True)
class NotableChange:
    kind: ChangeKind
    catalog_id: str
    item_id: str
    old: str | None
    new: str | None


class Verdict(enum.StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"  # a restatement of a state the item has since moved past


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    state: Known  # the item after the event
    changes: tuple[NotableChange, ...] = ()
