"""The views' tables and indexes, written once for SQLite and PostgreSQL (which differ only in
the integer and identity types)."""

from __future__ import annotations

from catalog_contract.item_fields import FieldKind
from projector.rows import ITEM_COLUMN_KINDS, ITEM_COLUMNS


def item_column_type(column: str, big: str) -> str:
    kind = ITEM_COLUMN_KINDS[column]
    if kind is FieldKind.INTEGER:
        return "INTEGER"
    if kind in (FieldKind.LONG, FieldKind.PRICE, FieldKind.TIME):
        return big
    return "TEXT"


# The read API's indexes. A rebuild creates them after its load (one sort instead of an index
# update per upsert); every other start creates them with the tables.
INDEX_STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS items_by_price ON items (catalog_id, current_price)",
    # A filtered page walks one availability in item order, price checked on the way.
    "CREATE INDEX IF NOT EXISTS items_by_stock_in_order "
    "ON items (catalog_id, stock_availability, item_id)",
]


# Stop 38's column of `removals` (the markers of a table created before keep no ids: '').
REMOVAL_IDS_COLUMN = "event_ids TEXT NOT NULL DEFAULT ''"


def added_columns(items: set[str], removals: set[str], big: str) -> list[str]:
    """What brings tables of an older schema version (their columns `items` and `removals`)
    to this one: the columns added since, each by ALTER TABLE."""
    statements = [
        f'ALTER TABLE items ADD COLUMN "{column}" {item_column_type(column, big)}'
        for column in ITEM_COLUMNS
        if column not in items
    ]
    if "event_ids" not in removals:
        statements.append(f"ALTER TABLE removals ADD COLUMN {REMOVAL_IDS_COLUMN}")
    return statements


def schema_statements(big: str, serial: str) -> list[str]:
    columns = ", ".join(f'"{c}" {item_column_type(c, big)}' for c in ITEM_COLUMNS)
    return [
        f"CREATE TABLE IF NOT EXISTS items ({columns}, PRIMARY KEY (catalog_id, item_id))",
        "CREATE TABLE IF NOT EXISTS catalogs (catalog_id TEXT PRIMARY KEY, item_count "
        f"{big} NOT NULL, in_stock {big} NOT NULL, out_of_stock {big} NOT NULL, "
        f"last_change_at {big})",
        f"CREATE TABLE IF NOT EXISTS changes (seq {serial}, kind TEXT NOT NULL, "
        "catalog_id TEXT NOT NULL, item_id TEXT NOT NULL, old TEXT, new TEXT, event_id TEXT, "
        f'"partition" INTEGER NOT NULL, "offset" {big} NOT NULL)',
        # Removed items: when, so an older retry arriving later stays out, and the ids applied
        # at that time, so a retry tying it stays out too (see item_state.Removed).
        "CREATE TABLE IF NOT EXISTS removals (catalog_id TEXT NOT NULL, item_id TEXT NOT NULL, "
        f'source_updated_at {big}, "partition" INTEGER NOT NULL, "offset" {big} NOT NULL, '
        f"{REMOVAL_IDS_COLUMN}, PRIMARY KEY (catalog_id, item_id))",
        # Restatements owed (their write failed), by key: the position of the key's last record
        # judged when it was owed (restatements_owed.py).
        "CREATE TABLE IF NOT EXISTS owed_restatements (catalog_id TEXT NOT NULL, "
        f'item_id TEXT NOT NULL, "partition" INTEGER NOT NULL, "offset" {big} NOT NULL, '
        "PRIMARY KEY (catalog_id, item_id))",
        'CREATE TABLE IF NOT EXISTS offsets (topic TEXT NOT NULL, "partition" INTEGER NOT NULL, '
        f'next_offset {big} NOT NULL, PRIMARY KEY (topic, "partition"))',
        # Partitions found behind these views (topic_behind.py): said again after a restart,
        # by whichever instance reads them, until a rebuild (a new generation) mends them.
        'CREATE TABLE IF NOT EXISTS behind (topic TEXT NOT NULL, "partition" INTEGER NOT NULL, '
        f'views_at {big} NOT NULL, topic_ends_at {big} NOT NULL, PRIMARY KEY (topic, "partition"))',
    ]
