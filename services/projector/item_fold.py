"""How one event changes one item's view, and which notable changes that makes. Pure.

- A snapshot is merged into the known state: a field the postback did not send keeps its value.
- Last writer wins by the source's own timestamp (DateLastUpdated); a tie goes to the later
  offset, which within a partition is always the newer record. An older retry is *stale*.
- An exact repeat of an event the item applied at its current source time (the last one, or
  one of the same time before it: a retry landing after another postback of that time) is a
  *duplicate*: a no-op. So is an event that changes no field and not the time (a copy of an
  earlier event of the same source time).
- A REMOVED event or a tombstone removes the item and leaves a *removal marker* (when, and at
  which position), so an older retry arriving after the removal is stale instead of bringing
  the item back. Markers are not served; a newer postback re-adds the item (one without a
  source time keeps the marker's, so that retry stays stale after the re-add too). A newer
  removal of a removed item moves the marker's time forward, like any other change. A marker
  keeps the ids of its time as an item does (the removal's, the item's if it kept its time), and
  a re-add of that time keeps them: a retry of any of them is a duplicate, but for an untimed
  removal's (item_state.removed_again).
- A *restatement* (a record the projector wrote, see projector.restatements) says the item's
  whole state as of one position of the topic (its `restates` header). It applies only if the
  item has applied nothing after that position (so it can never undo a newer acknowledged
  change), and then it replaces the item's state rather than merging into it; otherwise it is
  *superseded* and ignored. Time stamps do not judge it: positions do.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from catalog_contract.events import Availability, ChangeType, ProductChange
from catalog_contract.frozen_build import builder
from projector.item_state import (
    IN_STOCK,
    MERGED_FIELDS,
    ChangeKind,
    ItemState,
    Known,
    NotableChange,
    Outcome,
    Position,
    Removed,
    Verdict,
    applied_at_its_time,
    build_state,
    ids_at,
    removed_again,
    repeats_a_removal,
    with_id,
)

# Per applied record (frozen_build: without their __init__).
_build_note = builder(NotableChange)
_build_outcome = builder(Outcome)


def _is_stale(previous: ItemState | Removed, source_updated_at: datetime | None) -> bool:
    if previous.source_updated_at is None or source_updated_at is None:
        return False
    return source_updated_at < previous.source_updated_at


def price_text(price: Decimal | None) -> str | None:
    """Exact, with at least two decimals: 12.9900 -> "12.99", 0.1250 -> "0.125"."""
    if price is None:
        return None
    text = f"{price.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _text(value: object) -> str | None:
    if value is None:
        return None
    return price_text(value) if isinstance(value, Decimal) else str(value)


def _notable(previous: ItemState | None, state: ItemState) -> list[NotableChange]:
    def note(kind: ChangeKind, old: object, new: object) -> NotableChange:
        return _build_note(kind, state.catalog_id, state.item_id, _text(old), _text(new))

    if previous is None:
        return [note(ChangeKind.ITEM_ADDED, None, state.current_price)]
    found = []
    old_price, new_price = previous.current_price, state.current_price
    if old_price is not None and new_price is not None and old_price != new_price:
        kind = ChangeKind.PRICE_DROP if new_price < old_price else ChangeKind.PRICE_RISE
        found.append(note(kind, old_price, new_price))
    old_stock, new_stock = previous.stock_availability, state.stock_availability
    if old_stock is not None and new_stock is not None and old_stock != new_stock:
        if new_stock in IN_STOCK and old_stock not in IN_STOCK:
            found.append(note(ChangeKind.BACK_IN_STOCK, old_stock, new_stock))
        elif new_stock is Availability.OUT_OF_STOCK:
            found.append(note(ChangeKind.OUT_OF_STOCK, old_stock, new_stock))
    return found


def _moved_past(previous: Known, restates: Position) -> bool:
    """Whether the item applied a record after the position a restatement restates."""
    if previous is None:
        return False
    return (previous.partition, previous.offset) > (restates.partition, restates.offset)


def _gone(previous: ItemState) -> NotableChange:
    return NotableChange(
        ChangeKind.ITEM_REMOVED,
        previous.catalog_id,
        previous.item_id,
        _text(previous.current_price),
        None,
    )


def removed(
    previous: Known,
    source_updated_at: datetime | None,
    at: Position,
    key: tuple[str, str],
    restates: Position | None = None,
    event_id: str | None = None,
) -> Outcome:
    """A REMOVED event, or a tombstone (whose headers carry the removal's source timestamp and
    `event_id`, none on a restatement), for item `key`. A retried old removal cannot delete a
    newer item; a removal of an item never seen still leaves a marker, so its creation arriving
    late (a retry) does not bring it back."""
    if restates is not None:
        if _moved_past(previous, restates):
            return Outcome(Verdict.SUPERSEDED, previous)
        ids = ids_at(previous, source_updated_at)  # (a tombstone says none of its own)
        marker = Removed(*key, source_updated_at, restates.partition, restates.offset, ids)
        if marker == previous:
            return Outcome(Verdict.DUPLICATE, previous)
        gone = (_gone(previous),) if isinstance(previous, ItemState) else ()
        return Outcome(Verdict.APPLIED, marker, gone)
    if previous is not None and event_id is not None and repeats_a_removal(previous, event_id):
        return Outcome(Verdict.DUPLICATE, previous)  # (a removal's tombstone, or its retry's)
    if isinstance(previous, Removed):
        if source_updated_at is None or source_updated_at == previous.source_updated_at:
            ids = with_id(previous.event_ids, event_id, 1)  # a tie (untimed: the marker's time)
            return Outcome(Verdict.DUPLICATE, dataclasses.replace(previous, event_ids=ids))
        if _is_stale(previous, source_updated_at):
            return Outcome(Verdict.DUPLICATE, previous)
        marker = Removed(*key, source_updated_at, at.partition, at.offset, with_id("", event_id))
        return Outcome(Verdict.APPLIED, marker)
    if previous is not None and _is_stale(previous, source_updated_at):
        return Outcome(Verdict.STALE, previous)
    if source_updated_at is None and previous is not None:
        source_updated_at = previous.source_updated_at
    ids = with_id(ids_at(previous, source_updated_at), event_id)  # (the item's, at a tie)
    marker = Removed(*key, source_updated_at, at.partition, at.offset, ids)
    return Outcome(Verdict.APPLIED, marker, () if previous is None else (_gone(previous),))


def _restated(previous: Known, change: ProductChange, restates: Position) -> Outcome:
    """A restatement replaces the state (it says all of it) if nothing newer was applied."""
    if _moved_past(previous, restates):
        return Outcome(Verdict.SUPERSEDED, previous)
    current = previous if isinstance(previous, ItemState) else None
    event_ids = str(change.event_id)
    earlier = ids_at(previous, change.source_updated_at)
    if event_ids in earlier.split(" "):  # the ids of its time stay, its own first (a replay
        event_ids = with_id(earlier, event_ids)  # may have applied a retry after it)
    state = ItemState(
        catalog_id=change.catalog_id,
        item_id=change.catalog_item_id,
        last_event_id=event_ids,
        received_at=change.received_at,
        partition=restates.partition,
        offset=restates.offset,
        revision=current.revision if current else 1,  # not a change of its own
        source_updated_at=change.source_updated_at,
        **{name: getattr(change, name) for name in MERGED_FIELDS},
    )
    if state == previous:
        return Outcome(Verdict.DUPLICATE, previous)
    return Outcome(Verdict.APPLIED, state, tuple(_notable(current, state)))


def apply(
    previous: Known,
    change: ProductChange,
    at: Position,
    restates: Position | None = None,
    notable: bool = True,
) -> Outcome:
    """The item after `change`. `notable` False: its notable changes are not wanted (a rebuild's
    record whose changes the feed announced already), so an addition or update does not work
    them out (most of a rebuild's records; a removal's single change is cheap, and stays)."""
    if restates is not None:
        return _restated(previous, change, restates)
    event_id = str(change.event_id)
    if previous is not None and applied_at_its_time(previous, event_id):
        if not removed_again(previous, change):
            return Outcome(Verdict.DUPLICATE, previous)
        # New to the item: its id goes, the others of the time stay in the marker (test_attack39b)
        ids = " ".join(i for i in previous.last_event_id.split() if i != event_id)
        previous = dataclasses.replace(previous, last_event_id=ids)
    if previous is not None and _is_stale(previous, change.source_updated_at):
        return Outcome(Verdict.STALE, previous)
    key = (change.catalog_id, change.catalog_item_id)
    if change.change_type is ChangeType.REMOVED:
        return removed(previous, change.source_updated_at, at, key, None, event_id)
    # Without a time of its own a postback keeps the item's, a re-added one its removal's: else
    # an older retry, stale against the marker, would be applied over the new item.
    kept_time = None if previous is None else previous.source_updated_at
    source_updated_at = change.source_updated_at or kept_time
    # A tie (the later offset wins): the ids of that time stay, a re-add's its removal's too.
    earlier = ids_at(previous, source_updated_at)
    event_ids = with_id(earlier, event_id) if earlier else event_id
    if isinstance(previous, Removed):
        previous = None  # re-added by a newer postback: a new item
    sent = _merged_values(change)
    merged: Sequence[object] = sent
    if previous is not None:
        kept = _merged_values(previous)
        merged = [new if new is not None else old for new, old in zip(sent, kept, strict=True)]
    state = build_state(
        *merged,
        change.catalog_id,
        change.catalog_item_id,
        event_ids,
        change.received_at,
        at.partition,
        at.offset,
        (previous.revision if previous else 0) + 1,
        source_updated_at,
    )
    if _changes_nothing(previous, state):
        # A copy changes nothing, but its id is one of this time's: its retry landing after a
        # newer change of the same time is a repeat too (not a partial postback undoing it).
        # After the applied event's id, which the read API serves (with its received_at).
        assert previous is not None  # (_changes_nothing: an item of the same time)
        ids = with_id(previous.last_event_id, event_id, 1)
        return Outcome(Verdict.DUPLICATE, dataclasses.replace(previous, last_event_id=ids))
    return _build_outcome(
        Verdict.APPLIED, state, tuple(_notable(previous, state)) if notable else ()
    )


# Every merged field of an event or a state at once (per record of a catch-up: one C call, where
# a getattr per field and name was the fold's biggest cost).
_merged_values = operator.attrgetter(*MERGED_FIELDS)


def _changes_nothing(previous: ItemState | None, state: ItemState) -> bool:
    """Same fields, same source time: a copy of an event applied before another one of the same
    source time (a retry written twice, its copy landing after a concurrent partial postback).
    Counting it would apply one acknowledged change twice."""
    if previous is None or previous.source_updated_at != state.source_updated_at:
        return False
    return all(
        old == new for old, new in zip(_merged_values(previous), _merged_values(state), strict=True)
    )
