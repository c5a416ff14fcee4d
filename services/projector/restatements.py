"""Which items the topic must restate so that compaction keeps their true state. Pure.

Compaction keeps only the *last written* record of each key. The views' truth can differ from
that record: a postback that left fields out (the views merged it), an older retry written after
a newer change (the views ignored it as stale), or a stale removal. A replay after compaction
would then rebuild other views than the live ones. So, after each batch, the live projector
writes the item's full current state (or a tombstone) under the key whenever the batch's last
record for that key does not say it by itself. Consuming that restatement changes nothing in
the views, and it says everything, so it needs no restatement of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from catalog_contract.events import PRODUCT_FIELDS, ChangeType, ProductChange
from projector.batch import BatchPlan, ItemKey
from projector.view import ItemState, Position, Removed

# Restatement event ids: uuid5 of the event id they complete, so restating one state twice
# (two instances during a rebalance) writes the same event, which the views see as a duplicate.
RESTATEMENT_NAMESPACE = uuid.UUID("5f0e1c9a-3d6b-5a52-9c1e-6f2b8d4a7e31")


@dataclass(frozen=True, slots=True)
class Restatement:
    key: ItemKey
    says: ProductChange | Removed  # the item's whole state, or its removal (a tombstone)
    supersedes: Position  # the record whose compaction would have lost the truth


def snapshot(state: ItemState) -> ProductChange:
    """The item's whole known state as one event."""
    return ProductChange(
        event_id=uuid.uuid5(RESTATEMENT_NAMESPACE, state.last_event_id),
        received_at=state.received_at,
        change_type=ChangeType.UPDATED,
        catalog_id=state.catalog_id,
        catalog_item_id=state.item_id,
        source_updated_at=state.source_updated_at,
        **{name: getattr(state, name) for name in PRODUCT_FIELDS},
    )


def _states_fully(change: ProductChange, state: ItemState) -> bool:
    return all(
        getattr(change, name) == getattr(state, name)
        for name in (*PRODUCT_FIELDS, "source_updated_at")
    )


def restatements(plan: BatchPlan) -> list[Restatement]:
    found = []
    for key, last in plan.last_records.items():
        if last.change is not None and last.change.change_type is ChangeType.REMOVED:
            continue  # the receiver writes its tombstone right after it: that one is judged
        known = plan.items[key] if key in plan.items else plan.before.get(key)
        at = Position(last.partition, last.offset)
        if isinstance(known, ItemState):
            if last.change is None or not _states_fully(last.change, known):
                found.append(Restatement(key, snapshot(known), at))
        elif isinstance(known, Removed) and last.change is not None:
            found.append(Restatement(key, known, at))
    return found
