"""The partitions found behind a generation of the views, kept in it (ViewStore.say_behind,
behind): the first finding of a partition stays, per topic, on SQLite and on PostgreSQL (its
own server). What they are for: test_attack35_behind_across_restart."""

from __future__ import annotations

import uuid
from pathlib import Path

from projector.generations_postgres import PostgresGenerations
from projector.sqlite_store import SqliteStore
from projector.store import ViewStore
from tests.postgres import LocalPostgres


def _said_twice(store: ViewStore) -> None:
    store.create()
    assert store.behind("products") == {}
    store.say_behind("products", 1, 20, 1)
    store.say_behind("products", 1, 25, 30)  # (another finding of it: the first stays)
    store.say_behind("products", 0, 7, 3)
    store.say_behind("other", 1, 9, 0)
    assert store.behind("products") == {0: (7, 3), 1: (20, 1)}
    assert store.behind("other") == {1: (9, 0)}


def test_sqlite_keeps_the_first_finding_per_partition(tmp_path: Path) -> None:
    _said_twice(SqliteStore(tmp_path / "v.db"))


def test_postgres_keeps_the_first_finding_per_partition(postgres: LocalPostgres) -> None:
    generations = PostgresGenerations(postgres.create_database(f"b_{uuid.uuid4().hex[:12]}"))
    store = generations.open_new()
    try:
        _said_twice(store)
    finally:
        store.close()
