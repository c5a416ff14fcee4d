"""Reading the product topic from any consumer: raw key, value and headers in, a typed event or
a tombstone out. Values written with any schema version in `schemas/` are read with the current
one (resolved by the fingerprint in each value's header)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalog_contract import codec
from catalog_contract import headers as record_headers
from catalog_contract.errors import ContractError, DecodeError
from catalog_contract.events import ProductChange
from catalog_contract.keys import parse_key
from catalog_contract.types import Headers


@dataclass(frozen=True, slots=True)
class Tombstone:
    """The item is gone; compaction will forget the key after `delete.retention.ms`."""

    catalog_id: str
    catalog_item_id: str
    source_updated_at: datetime | None  # of the removal, from the record's headers
    event_id: str | None = None  # the removal's, from its headers (none on a restatement's)


def read(
    key: bytes | None, value: bytes | None, headers: Headers | None = None
) -> ProductChange | Tombstone:
    """Raises ContractError (or its DecodeError) for a record that breaks the contract."""
    if key is None:
        raise ContractError("record has no key")
    catalog_id, item_id = parse_key(key)
    if value is None:
        return Tombstone(
            catalog_id,
            item_id,
            record_headers.source_updated_at(headers),
            record_headers.event_id(headers),
        )
    change = codec.decode(value)
    if (change.catalog_id, change.catalog_item_id) != (catalog_id, item_id):
        raise DecodeError("key does not match the value's ids")
    return change
