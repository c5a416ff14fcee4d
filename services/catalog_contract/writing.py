"""How one product change is written to the product topic: its key, its values in order (a
removal is the event, then a tombstone) and its headers. Used by every writer (the receiver, a
dead-letter re-drive) so they write the same records for the same change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalog_contract import codec
from catalog_contract import headers as record_headers
from catalog_contract.events import ChangeType, ProductChange
from catalog_contract.keys import product_key
from catalog_contract.types import Header, Position


@dataclass(frozen=True, slots=True)
class ProductRecords:
    key: bytes
    values: tuple[bytes | None, ...]
    headers: list[Header]


def product_records(change: ProductChange) -> ProductRecords:
    values: tuple[bytes | None, ...] = (codec.encode(change),)
    if change.change_type is ChangeType.REMOVED:
        # Recorded as an event, then a tombstone lets compaction forget the item.
        values = (*values, None)
    key = product_key(change.catalog_id, change.catalog_item_id)
    return ProductRecords(key, values, record_headers.for_change(change))


def restatement_records(
    catalog_id: str,
    item_id: str,
    state: ProductChange | None,
    removed_at: datetime | None,
    restates: Position,
) -> ProductRecords:
    """A projector's restatement of one item: its whole state (an UPDATED event) or, with
    `state` None, its removal (a tombstone carrying the removal's time), and the position of the
    state it says (see projector.restatements)."""
    if state is not None:
        said = product_records(state)
        values, found = said.values, said.headers
    else:
        values, found = (None,), record_headers.for_removal(removed_at)
    key = product_key(catalog_id, item_id)
    return ProductRecords(key, values, [*found, record_headers.restates(*restates)])
