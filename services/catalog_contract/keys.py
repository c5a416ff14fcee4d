"""The product topic's key: the UTF-8 text `<catalog_id>:<catalog_item_id>`."""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from catalog_contract.errors import ContractError

SEPARATOR = ":"


def product_key(catalog_id: str, catalog_item_id: str) -> bytes:
    """Catalog ids may not contain the separator; item ids may (the first `:` splits)."""
    if not catalog_id or not catalog_item_id:
        raise ContractError("catalog_id and catalog_item_id must both be non-empty")
    if SEPARATOR in catalog_id:
        raise ContractError(f"catalog_id may not contain {SEPARATOR!r}: {catalog_id!r}")
    return f"{catalog_id}{SEPARATOR}{catalog_item_id}".encode()


def parse_key(key: bytes) -> tuple[str, str]:
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(f"key is not UTF-8: {key!r}") from exc
    catalog_id, sep, item_id = text.partition(SEPARATOR)
    if not sep or not catalog_id or not item_id:
        raise ContractError(f"key is not '<catalog_id>:<catalog_item_id>': {text!r}")
    return catalog_id, item_id


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner picks for a keyed record."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions
