"""A Kafka record of the product topic, read into what the view needs. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalog_contract import headers as record_headers
from catalog_contract.errors import ContractError
from catalog_contract.events import ProductChange
from catalog_contract.frozen_build import builder
from catalog_contract.reader import Tombstone, read
from projector.item_state import Position


@dataclass(frozen=True, slots=True)
class Incoming:
    partition: int
    offset: int
    catalog_id: str
    item_id: str
    change: ProductChange | None  # None: a tombstone
    tombstone_source_updated_at: datetime | None = None
    restates: Position | None = None  # on a restatement: the position whose state it says
    tombstone_event_id: str | None = None  # its removal's (item_fold.removed)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A record the views cannot apply; kept (raw) in the projector's dead-letter topic."""

    partition: int
    offset: int
    reason: str
    key: bytes | None = None
    value: bytes | None = None
    headers: record_headers.Headers = ()


def read_record(
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: record_headers.Headers | None,
) -> Incoming | Unreadable:
    try:
        found = read(key, value, headers)
        restated = record_headers.restated(headers)
    except ContractError as exc:
        return Unreadable(partition, offset, str(exc), key, value, tuple(headers or ()))
    restates = None if restated is None else Position(*restated)
    if isinstance(found, Tombstone):
        return Incoming(partition, offset, found.catalog_id, found.catalog_item_id, None,
                        found.source_updated_at, restates, found.event_id)  # fmt: skip
    return _build_incoming(
        partition, offset, found.catalog_id, found.catalog_item_id, found, None, restates, None
    )


_build_incoming = builder(Incoming)  # per record of a catch-up: without its frozen __init__
