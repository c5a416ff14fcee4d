"""Kafka record headers on the product topic.

Every record carries its event id and source timestamp as headers. A tombstone has no value, so
its headers are the only way a reader can tell whether a removal is older than what it knows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from catalog_contract.errors import DecodeError
from catalog_contract.events import ProductChange
from catalog_contract.positions import parse_position, position_text
from catalog_contract.text_forms import uuid_text
from catalog_contract.types import Header, Position
from catalog_contract.types import Headers as Headers  # the projector says headers.Headers

EVENT_ID = "event-id"
SOURCE_UPDATED_AT = "source-updated-at"
# On a record the projector wrote so that compaction keeps an item's true state: the position
# ("partition:offset") of the record it supersedes. See projector.restatements.
RESTATES = "restates"

# On a record of the projector's dead-letter topic (its key, value and other headers are the
# source record's own bytes): where it was read and why it could not be applied.
SOURCE_TOPIC = "dead-letter-source-topic"
SOURCE_POSITION = "dead-letter-source-position"  # "partition:offset"
REASON = "dead-letter-reason"


def for_change(change: ProductChange) -> list[Header]:
    return [(EVENT_ID, uuid_text(change.event_id).encode()), *for_removal(change.source_updated_at)]


def for_removal(source_updated_at: datetime | None) -> list[Header]:
    """A tombstone's headers when no event is at hand (when the item was removed); also the
    source time part of every event's headers."""
    if source_updated_at is None:
        return []
    return [(SOURCE_UPDATED_AT, source_updated_at.isoformat().encode())]


def source_updated_at(headers: Headers | None) -> datetime | None:
    """Raises DecodeError for a time that is not ISO-8601 with a zone: compared with the views'
    times (all with zones) it could only be guessed at, or crash the comparison."""
    for name, value in headers or ():
        if name == SOURCE_UPDATED_AT:
            try:
                found = datetime.fromisoformat(value.decode())
            except (UnicodeDecodeError, ValueError) as exc:
                raise DecodeError(f"{SOURCE_UPDATED_AT} header is not an ISO-8601 time") from exc
            if found.tzinfo is None:
                raise DecodeError(f"{SOURCE_UPDATED_AT} header has no time zone")
            return found
    return None


def event_id(headers: Headers | None) -> str | None:
    """The record's event id (a tombstone's: its removal's), as uuid_text writes it; None without
    the header (a restatement's tombstone) or with one that is not a UUID. Such an id (a data
    team tool's tombstone: its own ticket number) names no event the views applied, whose ids
    are all UUIDs, so it can make nothing a repeat; read as none, the tombstone still removes
    by its time. Unreadable, it removed nothing live while a replay of the compacted topic
    (where it is the key's last record) had no item: test_attack38a_tombstone_ids.py."""
    for name, value in headers or ():
        if name == EVENT_ID:
            try:
                return uuid_text(uuid.UUID(value.decode("ascii")))
            except (UnicodeDecodeError, ValueError):
                return None
    return None


def restates(partition: int, offset: int) -> Header:
    return (RESTATES, position_text(partition, offset).encode())


def restated(headers: Headers | None) -> Position | None:
    """The position a restatement restates, or None for any other record."""
    for name, value in headers or ():
        if name == RESTATES:
            found = parse_position(value.decode("ascii", "replace"))
            if found is None:
                raise DecodeError(f"{RESTATES} header is not partition:offset")
            return found
    return None


def for_projector_dead_letter(
    original: Headers | None, topic: str, partition: int, offset: int, reason: str
) -> list[Header]:
    return [
        *(original or ()),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_POSITION, position_text(partition, offset).encode()),
        (REASON, reason.encode("utf-8", "replace")),
    ]
