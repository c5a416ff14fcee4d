"""A Kafka record of the product topic, read into what the view needs. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalog_contract import codec
from catalog_contract import headers as record_headers
from catalog_contract.errors import ContractError
from catalog_contract.events import ProductChange
from catalog_contract.keys import parse_key


@dataclass(frozen=True, slots=True)
class Incoming:
    partition: int
    offset: int
    catalog_id: str
    item_id: str
    change: ProductChange | None  # None: a tombstone
    tombstone_source_updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    partition: int
    offset: int
    reason: str


def read_record(
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: record_headers.Headers | None,
) -> Incoming | Unreadable:
    try:
        if key is None:
            raise ContractError("record has no key")
        catalog_id, item_id = parse_key(key)
        if value is None:
            return Incoming(
                partition,
                offset,
                catalog_id,
                item_id,
                None,
                record_headers.source_updated_at(headers),
            )
        change = codec.decode(value)
    except ContractError as exc:
        return Unreadable(partition, offset, str(exc))
    if (change.catalog_id, change.catalog_item_id) != (catalog_id, item_id):
        return Unreadable(partition, offset, "key does not match the value's ids")
    return Incoming(partition, offset, catalog_id, item_id, change)
