"""The write transaction of a batch: executes what the batch plan says (projector.batch), with
the offsets it reached, after checking that nobody else applied these partitions meanwhile.
Its statements are built once per store, for the store's placeholder and row-locking syntax."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projector.batch import BatchPlan
from projector.errors import PositionConflict
from projector.rows import ITEM_COLUMNS, REMOVAL_COLUMNS, micros, removal_row, to_row

_KEY_COLUMNS = ("catalog_id", "item_id")
_WHERE_KEY = "WHERE catalog_id = ? AND item_id = ?"


ITEM_UPDATES = ", ".join(f'"{c}" = excluded."{c}"' for c in ITEM_COLUMNS if c not in _KEY_COLUMNS)
FEED_INSERT_COLUMNS = ("kind", "catalog_id", "item_id", "old", "new", "event_id", "partition",
                       "offset")  # fmt: skip


class BatchWrite:
    """The statements; `upsert_items` and `add_changes` are how the rows go in (executemany;
    PostgreSQL copies them, postgres_store.py)."""

    def __init__(self, sql: Callable[[str], str], lock_rows: str) -> None:
        names = ", ".join(f'"{c}"' for c in ITEM_COLUMNS)
        marks = ", ".join("?" for _ in ITEM_COLUMNS)
        self.upsert = sql(
            f"INSERT INTO items ({names}) VALUES ({marks}) "
            f"ON CONFLICT (catalog_id, item_id) DO UPDATE SET {ITEM_UPDATES}"
        )
        removal_names = ", ".join(f'"{c}"' for c in REMOVAL_COLUMNS)
        self.mark_removed = sql(
            f"INSERT INTO removals ({removal_names}) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (catalog_id, item_id) DO UPDATE SET "
            "source_updated_at = excluded.source_updated_at, "
            '"partition" = excluded."partition", "offset" = excluded."offset", '
            "event_ids = excluded.event_ids"
        )
        self.unmark = sql(f"DELETE FROM removals {_WHERE_KEY}")
        self.drop = sql(f"DELETE FROM items {_WHERE_KEY}")
        self.add_change = sql(
            "INSERT INTO changes (kind, catalog_id, item_id, old, new, event_id, "
            '"partition", "offset") VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
        )
        self.count_catalog = sql(
            "INSERT INTO catalogs (catalog_id, item_count, in_stock, out_of_stock, "
            "last_change_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (catalog_id) DO UPDATE SET "
            "item_count = catalogs.item_count + excluded.item_count, "
            "in_stock = catalogs.in_stock + excluded.in_stock, "
            "out_of_stock = catalogs.out_of_stock + excluded.out_of_stock, "
            "last_change_at = CASE WHEN excluded.last_change_at > "
            "COALESCE(catalogs.last_change_at, 0) THEN excluded.last_change_at "
            "ELSE catalogs.last_change_at END"
        )
        # Only a catalog this batch counted can have become empty (after every batch none is),
        # so look those up by key: a scan of every catalog per batch grew with the catalogs.
        self.drop_if_empty = sql("DELETE FROM catalogs WHERE catalog_id = ? AND item_count <= 0")
        self.save_offset = sql(
            'INSERT INTO offsets (topic, "partition", next_offset) VALUES (?, ?, ?) '
            'ON CONFLICT (topic, "partition") '
            "DO UPDATE SET next_offset = excluded.next_offset"
        )
        self.ensure_offset = sql(
            'INSERT INTO offsets (topic, "partition", next_offset) VALUES (?, ?, 0) '
            'ON CONFLICT (topic, "partition") DO NOTHING'
        )
        self.owe = sql(
            'INSERT INTO owed_restatements (catalog_id, item_id, "partition", "offset") '
            "VALUES (?, ?, ?, ?) ON CONFLICT (catalog_id, item_id) DO UPDATE SET "
            '"partition" = excluded."partition", "offset" = excluded."offset"'
        )
        self.owe_unless_owed = sql(
            'INSERT INTO owed_restatements (catalog_id, item_id, "partition", "offset") '
            "VALUES (?, ?, ?, ?) ON CONFLICT (catalog_id, item_id) DO NOTHING"
        )
        self.settle = sql(f"DELETE FROM owed_restatements {_WHERE_KEY}")
        # A retry settles only the debt it read: one owed again meanwhile (another instance's
        # batch, on a shared store) stays owed.
        self.settle_paid = sql(
            f'DELETE FROM owed_restatements {_WHERE_KEY} AND "partition" = ? AND "offset" = ?'
        )
        self.stored_offset = sql(
            'SELECT next_offset FROM offsets WHERE topic = ? AND "partition" = ?' + lock_rows
        )

    def execute(self, cursor: Any, topic: str, plan: BatchPlan) -> None:
        """Everything a batch changed, and the offsets it reached (in the caller's transaction).
        A row is deleted only where the plan's `before` (read from this store) says it exists."""
        self.check_positions(cursor, topic, plan)
        if present := plan.present():
            self.upsert_items(cursor, [to_row(s) for s in present])
        if unmarked := plan.unmarked():
            cursor.executemany(self.unmark, unmarked)
        if dropped := plan.dropped():
            cursor.executemany(self.drop, dropped)
        if gone := plan.gone():
            cursor.executemany(self.mark_removed, [removal_row(s) for s in gone])
        if plan.feed:
            self.add_changes(
                cursor,
                [
                    (
                        f.change.kind.value,
                        f.change.catalog_id,
                        f.change.item_id,
                        f.change.old,
                        f.change.new,
                        f.event_id,
                        f.position.partition,
                        f.position.offset,
                    )
                    for f in plan.feed
                ],
            )
        for catalog_id, delta in plan.catalogs.items():
            cursor.execute(
                self.count_catalog,
                (
                    catalog_id,
                    delta.items,
                    delta.in_stock,
                    delta.out_of_stock,
                    micros(plan.last_change_at.get(catalog_id)),
                ),
            )
        if plan.catalogs:
            cursor.executemany(self.drop_if_empty, [(c,) for c in plan.catalogs])
        if plan.settle:
            cursor.executemany(self.settle, plan.settle)
        if plan.owe:
            cursor.executemany(self.owe, [(*k, p.partition, p.offset) for k, p in plan.owe.items()])
        cursor.executemany(self.save_offset, [(topic, p, o) for p, o in plan.next_offsets.items()])

    def upsert_items(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        """Insert or replace these item rows (one per key)."""
        cursor.executemany(self.upsert, rows)

    def add_changes(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        """Append these feed entries, numbered in this order."""
        cursor.executemany(self.add_change, rows)

    def check_positions(self, cursor: Any, topic: str, plan: BatchPlan) -> None:
        """Another instance sharing this store may have applied these partitions meanwhile (a
        rebalance): then this batch was planned on old positions and must not be written.
        The offsets row is created first if missing, so there is always a row to lock: two
        instances applying a partition's first batch queue on it (the second then sees the
        first one's offsets) instead of both finding nothing to lock and both writing.
        Partitions are locked in one order, so two batches never wait on each other."""
        for partition in sorted(plan.next_offsets):
            cursor.execute(self.ensure_offset, (topic, partition))
            cursor.execute(self.stored_offset, (topic, partition))
            row = cursor.fetchone()
            stored = int(row[0]) if row else 0
            if stored != plan.planned_from.get(partition, 0):
                raise PositionConflict(
                    f"partition {partition}: store is at {stored}, batch planned from "
                    f"{plan.planned_from.get(partition, 0)}"
                )
