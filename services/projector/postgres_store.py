"""The view store on PostgreSQL: for several projector instances behind one database."""

from __future__ import annotations

from typing import Any

import psycopg

from projector.store import ViewStore
from projector.store_schema import schema_statements

# Instances starting together would race on CREATE ... IF NOT EXISTS (PostgreSQL may then fail
# one of them on a unique index of its catalog): every DDL of the views takes this lock first.
DDL_LOCK = "SELECT pg_advisory_xact_lock(7426153)"


class PostgresStore(ViewStore):
    placeholder = "%s"
    # Two instances in one group never own a partition at once, but during a rebalance one may
    # still be writing a batch: the row lock makes the position check and the write atomic.
    lock_rows = " FOR UPDATE"
    big_integer = "BIGINT"

    def __init__(self, url: str, schema: str = "views") -> None:
        super().__init__()
        self.url = url
        self.schema = schema  # one schema per generation of the views

    @property
    def name(self) -> str:
        return self.schema

    def _connect(self) -> Any:
        return psycopg.connect(self.url, options=f"-c search_path={self.schema}")

    def _schema_statements(self) -> list[str]:
        return [
            DDL_LOCK,
            f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"',
            *schema_statements("BIGINT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
        ]

    overriding = " OVERRIDING SYSTEM VALUE"

    def _feed_sequence_follows(self, cursor: Any) -> None:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('changes', 'seq'), "
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM changes), false)"
        )

    def _item_columns(self, cursor: Any) -> set[str]:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'items'"
        )
        return {str(row[0]) for row in cursor.fetchall()}
