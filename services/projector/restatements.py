"""Which items the topic must restate so that compaction keeps their true state. Pure.

Compaction keeps only the *last written* record of each key. The views' truth can differ from
that record: a postback that left fields out (the views merged it), an older retry written after
a newer change (the views ignored it as stale), or a stale removal. A replay after compaction
would then rebuild other views than the live ones. So, after each batch, the live projector
writes the item's full current state (or a tombstone) under the key whenever the batch's last
record for that key does not say it by itself.

A restatement carries the position of the state it says (`restates`: the item's last applied
position) and applies only while the item has applied nothing after it (projector.item_fold). So a
restatement written after a newer acknowledged postback landed is ignored instead of undoing
it, and as it is then the key's last record without saying the state, the projector restates
again: this converges as soon as the product is quiet. Consuming an accepted restatement
changes nothing in the live views, and it says everything, so it needs no restatement of its own.
"""

from __future__ import annotations

import operator
import uuid
from dataclasses import dataclass

from catalog_contract.events import PRODUCT_FIELDS, ChangeType, ProductChange
from projector.batch import BatchPlan, ItemKey
from projector.item_state import ItemState, Position, Removed, newest_event_id


@dataclass(frozen=True, slots=True)
class Restatement:
    key: ItemKey
    says: ProductChange | Removed  # the item's whole state, or its removal (a tombstone)
    restates: Position  # the item's last applied position: the state `says` says


def snapshot(state: ItemState) -> ProductChange:
    """The item's whole known state as one event. It keeps the id of the state's last event, so
    a retry of that event after the restatement is still a duplicate (applied once), and two
    instances restating one state write the same event."""
    return ProductChange(
        event_id=uuid.UUID(newest_event_id(state.last_event_id)),
        received_at=state.received_at,
        change_type=ChangeType.UPDATED,
        catalog_id=state.catalog_id,
        catalog_item_id=state.item_id,
        source_updated_at=state.source_updated_at,
        **{name: getattr(state, name) for name in PRODUCT_FIELDS},
    )


def _states_fully(
    change: ProductChange, state: ItemState, replaces: bool, first: bool = False
) -> bool:
    """Whether the record alone gives `state`, whatever a replay applied before it. An untimed
    one does not: applied over an earlier state it keeps that state's time (a replay may have
    applied a retry the live views judged stale), so its restatement says "no time". A
    restatement (`replaces`) inherits nothing. Nor does the `first` record of an item: the
    store knew nothing of it and the batch has no other record of it, so no record of its key
    came before it in the topic but ones no state came of (unreadable): a replay applies it
    over nothing too (a new item's untimed postback)."""
    if change.source_updated_at is None and not replaces and not first:
        return False
    if str(change.event_id) != newest_event_id(state.last_event_id):
        return False  # a copy: every field, but a replay would serve its id and received_at
    # Every field of both at once, compared pair by pair with == as they always were (a
    # getattr per field and name was most of this per-item check).
    return all(map(operator.eq, _STATED(change), _STATED(state)))


_STATED = operator.attrgetter(*PRODUCT_FIELDS, "source_updated_at")


def restatements(plan: BatchPlan) -> list[Restatement]:
    found = []
    for key, last in plan.last_records.items():
        # A record the views ignored, followed by others of the item here: compaction may keep
        # a suffix starting at it, and a replay applies it there (nothing to judge it against),
        # so what the later records leave out would come from it: restate. Unless the last is
        # a restatement of this state, which replaces whatever came before it
        # (test_projector_restatements_replays).
        ignored_before = (
            last.restates is None and plan.ignored_from.get(key, last.offset) < last.offset
        )
        # A removal's tombstone, written right after it, is judged; but maybe in the next batch,
        # which does not see what this one ignored (test_attack39c_cut_before_tombstone).
        removal = last.change is not None and last.change.change_type is ChangeType.REMOVED
        if removal and not ignored_before:
            continue
        known = plan.items[key] if key in plan.items else plan.before.get(key)
        if known is None:
            continue
        at = Position(known.partition, known.offset)
        # A restatement of another position (superseded, or of a state that has since judged a
        # later stale record) is not the item's truth in a replay either: restate again.
        elsewhere = last.restates is not None and last.restates != at
        if isinstance(known, ItemState):
            if (
                last.change is None
                or elsewhere
                or ignored_before
                or not _states_fully(
                    last.change,
                    known,
                    last.restates is not None,
                    plan.before.get(key) is None and key not in plan.again,
                )
            ):
                found.append(Restatement(key, snapshot(known), at))
        elif isinstance(known, Removed) and (
            last.change is not None or elsewhere or ignored_before
        ):
            found.append(Restatement(key, known, at))
    return found
