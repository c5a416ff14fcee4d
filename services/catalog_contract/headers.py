"""Kafka record headers on the product topic.

Every record carries its event id and source timestamp as headers. A tombstone has no value, so
its headers are the only way a reader can tell whether a removal is older than what it knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from catalog_contract.events import ProductChange

EVENT_ID = "event-id"
SOURCE_UPDATED_AT = "source-updated-at"
# On a record the projector wrote so that compaction keeps an item's true state: the position
# ("partition:offset") of the record it supersedes. See projector.restatements.
RESTATES = "restates"

Headers = Sequence[tuple[str, bytes]]


def for_change(change: ProductChange) -> list[tuple[str, bytes]]:
    return [(EVENT_ID, str(change.event_id).encode()), *for_removal(change.source_updated_at)]


def for_removal(source_updated_at: datetime | None) -> list[tuple[str, bytes]]:
    """A tombstone's headers when no event is at hand (when the item was removed); also the
    source time part of every event's headers."""
    if source_updated_at is None:
        return []
    return [(SOURCE_UPDATED_AT, source_updated_at.isoformat().encode())]


def source_updated_at(headers: Headers | None) -> datetime | None:
    for name, value in headers or ():
        if name == SOURCE_UPDATED_AT:
            try:
                return datetime.fromisoformat(value.decode())
            except (UnicodeDecodeError, ValueError):
                return None
    return None
