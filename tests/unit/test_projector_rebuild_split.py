# ruff: noqa: S608 (fixed rows of a test written as SQL text)
"""How a split rebuild groups the partitions, and how its parts are merged into the new
generation (rebuild_split.py): exact values, on SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector.rebuild_split import SplitLoadFailed, groups, merge
from projector.sqlite_store import SqliteStore

TOPIC = "t"


def test_groups_balance_the_records_and_leave_out_empty_partitions() -> None:
    assert groups({0: 10, 1: 0, 2: 5, 3: 7}, 2) == [{0: 10}, {3: 7, 2: 5}]
    assert groups({0: 1, 1: 1, 2: 1}, 8) == [{0: 1}, {1: 1}, {2: 1}]
    assert groups({0: 0, 1: 4}, 2) == [{1: 4}]  # one group: nothing to split
    assert groups({}, 2) == []


def _store(path: Path, *statements: str) -> Path:
    store = SqliteStore(path)
    store.create(False)
    with store._transaction() as cursor:  # rows as a part's batches leave them
        for statement in statements:
            cursor.execute(statement)
    store.close()
    return path


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    store = SqliteStore(path)
    try:
        return store._query(f"SELECT * FROM {table} ORDER BY 1, 2")
    finally:
        store.close()


def _part(path: Path, partition: int, item: str, catalogs: str) -> Path:
    return _store(
        path,
        f"INSERT INTO items (catalog_id, item_id) VALUES ('k', '{item}')",
        f"INSERT INTO removals VALUES ('k', 'gone-{item}', 1, {partition}, 3, 'id-{item}')",
        f"INSERT INTO catalogs VALUES {catalogs}",
        f"INSERT INTO offsets VALUES ('{TOPIC}', {partition}, 9)",
    )


def test_the_merge_copies_the_parts_and_adds_up_the_catalogs(tmp_path: Path) -> None:
    fresh = _store(tmp_path / "fresh.db")
    parts = [
        _part(tmp_path / "p0.db", 0, "a", "('k', 2, 1, 1, 5), ('x', 1, 1, 0, NULL)"),
        _part(tmp_path / "p1.db", 1, "b", "('k', 1, 0, 1, NULL), ('y', 1, 0, 0, 7)"),
    ]
    assert merge(fresh, parts, TOPIC)
    assert [r[:2] for r in _rows(fresh, "items")] == [("k", "a"), ("k", "b")]
    assert _rows(fresh, "removals") == [
        ("k", "gone-a", 1, 0, 3, "id-a"),  # (the ids of its time too)
        ("k", "gone-b", 1, 1, 3, "id-b"),
    ]
    assert _rows(fresh, "offsets") == [(TOPIC, 0, 9), (TOPIC, 1, 9)]
    # A time missing on one side is the other's, as a batch adds it (store_write).
    assert _rows(fresh, "catalogs") == [("k", 3, 1, 2, 5), ("x", 1, 1, 0, None), ("y", 1, 0, 0, 7)]


def test_the_merge_keeps_an_emptied_parts_time_and_drops_catalogs_empty_in_sum(
    tmp_path: Path,
) -> None:
    # A part keeps a catalog its partitions emptied (rebuild_part_store.PartStore): counts
    # 0, its newest item time. Where another part has items, the time counts; a catalog
    # empty in every part is no row, as after any batch of one process.
    fresh = _store(tmp_path / "fresh.db")
    parts = [
        _part(tmp_path / "p0.db", 0, "a", "('k', 1, 1, 0, 5), ('z', 0, 0, 0, 4)"),
        _part(tmp_path / "p1.db", 1, "b", "('k', 0, 0, 0, 9), ('z', 0, 0, 0, 6)"),
    ]
    assert merge(fresh, parts, TOPIC)
    assert _rows(fresh, "catalogs") == [("k", 1, 1, 0, 9)]


@pytest.mark.parametrize(
    "second",
    [
        "INSERT INTO items (catalog_id, item_id) VALUES ('k', 'a')",  # an item of both
        "INSERT INTO removals VALUES ('k', 'a', 1, 1, 4, '')",  # one's item, the other's removal
    ],
)
def test_a_key_in_two_parts_merges_nothing(tmp_path: Path, second: str) -> None:
    fresh = _store(tmp_path / "fresh.db")
    parts = [
        _part(tmp_path / "p0.db", 0, "a", "('k', 1, 1, 0, 5)"),
        _store(tmp_path / "p1.db", second, f"INSERT INTO offsets VALUES ('{TOPIC}', 1, 5)"),
    ]
    assert not merge(fresh, parts, TOPIC)
    for table in ("items", "removals", "catalogs", "offsets"):
        assert _rows(fresh, table) == []  # the builder loads it all


def test_a_part_that_fed_changes_fails_the_merge(tmp_path: Path) -> None:
    fresh = _store(tmp_path / "fresh.db")
    fed = _store(
        tmp_path / "p0.db",
        'INSERT INTO changes (kind, catalog_id, item_id, "partition", "offset") '
        "VALUES ('added', 'k', 'a', 0, 1)",
    )
    with pytest.raises(SplitLoadFailed, match="wrote changes"):
        merge(fresh, [fed, _store(tmp_path / "p1.db")], TOPIC)
    assert _rows(fresh, "offsets") == []
