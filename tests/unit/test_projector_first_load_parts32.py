# ruff: noqa: S608 (fixed rows of a test written as SQL text)
"""The first catch-up's parts across a SIGKILL (first_load_parts.py: which parts a next start
resumes, and what each then loads) and a merge of parts two of which hold one key
(rebuild_split_merge.merged_parts: as many records as can be, never a key of two parts): exact
values, on SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

from projector import first_load_parts as parts
from projector.rebuild_split_merge import merge, merged_parts
from tests.unit.test_projector_rebuild_split import _rows, _store

TOPIC = "t"


def test_parts_go_on_only_if_each_is_read_none_shares_a_partition_and_none_is_past_the_end() -> (
    None
):
    ends = {0: 50, 1: 40, 2: 30}
    assert parts.resumable([{0: 10}, {1: 40, 2: 3}, {}], ends)
    assert parts.resumable([], ends)
    assert not parts.resumable([{0: 10}, None], ends)  # another topic's, or unreadable
    assert not parts.resumable([{0: 10}, {0: 12}], ends)  # one partition in two parts
    assert not parts.resumable([{0: 51}], ends)  # past the end: another log's records
    assert not parts.resumable([{3: 1}], ends)  # a partition the topic does not have


def test_each_part_goes_on_with_its_partitions_and_the_others_go_where_fewest_are_left() -> None:
    ends = {0: 100, 1: 90, 2: 80, 3: 20}
    targets = {0: 100, 1: 90, 2: 80, 3: 20}
    # Part 0 has 100 - 95 = 5 left, part 1 90 - 10 = 80: partition 2 (80) goes to part 0,
    # then 3 (20) to part 1 (80 < 5 + 80).
    assert parts.resumed_groups([{0: 95}, {1: 10}], targets, ends, 2) == [
        {0: 100, 2: 80},
        {1: 90, 3: 20},
    ]
    # One part left (killed while the other was created): a new one, up to the workers.
    assert parts.resumed_groups([{0: 95}], targets, ends, 2) == [{0: 100, 2: 80, 3: 20}, {1: 90}]
    # A part that wrote nothing yet goes on as a new one would.
    assert parts.resumed_groups([{}, {}], targets, ends, 2) == [{0: 100, 3: 20}, {1: 90, 2: 80}]
    # More parts than workers (the setting lowered): each goes on.
    assert parts.resumed_groups([{0: 1}, {1: 1}, {2: 1}, {}], targets, ends, 2) == [
        {0: 100},
        {1: 90},
        {2: 80},
        {3: 20},
    ]
    # A part with nothing held and nothing given is an empty group (not run).
    assert parts.resumed_groups([{0: 1}, {}], {0: 100}, ends, 2) == [{0: 100}, {}]
    # A held partition the topic holds no records of any more (retention) goes on to its end.
    assert parts.resumed_groups([{0: 4}, {1: 2}], {2: 80}, {0: 4, 1: 2, 2: 80}, 2) == [
        {0: 4, 2: 80},
        {1: 2},
    ]


def test_parts_are_found_by_name_read_and_locked(tmp_path: Path) -> None:
    views = tmp_path / "views.db"
    one, other = parts.part_path(views), parts.part_path(views)
    assert one != other
    assert one.name.startswith("views.first-load.")
    assert one.suffix == ".db"
    _store(one, f"INSERT INTO offsets VALUES ('{TOPIC}', 2, 7)")
    _store(other)
    # Not a part: a generation, the WAL of a part, the lock.
    for name in ("views.1.db", "views.db", "views.first-load.5.db-wal", "views.first-load.x.db"):
        (tmp_path / name).touch()
    assert parts.left_behind(views) == sorted([one, other])
    assert parts.held(one, TOPIC) == {2: 7}
    assert parts.held(other, TOPIC) == {}
    assert parts.held(one, "another") is None
    created_half = tmp_path / "views.first-load.9.db"  # killed before its tables
    created_half.touch()
    assert parts.held(created_half, TOPIC) == {}
    (garbage := tmp_path / "views.first-load.8.db").write_bytes(b"not a database" * 100)
    assert parts.held(garbage, TOPIC) is None
    held = parts.lock(views)
    assert held is not None
    try:
        assert parts.lock(views) is None  # (another descriptor: another process's, likewise)
    finally:
        os.close(held)
    again = parts.lock(views)
    assert again is not None
    os.close(again)


def _part(path: Path, partition: int, offset: int, *items: str) -> Path:
    values = ", ".join(f"('k', '{i}')" for i in items)
    return _store(
        path,
        f"INSERT INTO items (catalog_id, item_id) VALUES {values}",
        f"INSERT INTO catalogs VALUES ('k', {len(items)}, 0, 0, NULL)",
        'INSERT INTO changes (kind, catalog_id, item_id, "partition", "offset") '
        f"VALUES ('added', 'k', '{items[0]}', {partition}, 0)",
        f"INSERT INTO offsets VALUES ('{TOPIC}', {partition}, {offset})",
    )


def test_parts_sharing_a_key_merge_the_most_records_that_share_none(tmp_path: Path) -> None:
    fresh = _store(tmp_path / "fresh.db")
    loaded = [
        _part(tmp_path / "p0.db", 0, 30, "a", "moved"),
        _part(tmp_path / "p1.db", 1, 50, "b", "moved"),  # the most records: merged
        _part(tmp_path / "p2.db", 2, 10, "c"),  # shares no key: merged too
    ]
    assert not merge(fresh, loaded, TOPIC, True)  # all or nothing, as before
    assert _rows(fresh, "offsets") == []
    assert merged_parts(fresh, loaded, TOPIC, True, True) == [1, 2]
    assert _rows(fresh, "offsets") == [(TOPIC, 1, 50), (TOPIC, 2, 10)]
    assert [r[:2] for r in _rows(fresh, "items")] == [("k", "b"), ("k", "c"), ("k", "moved")]
    assert _rows(fresh, "catalogs") == [("k", 3, 0, 0, None)]
    assert [r[3] for r in _rows(fresh, "changes")] == ["b", "c"]  # (item_id) in the parts' order


def test_a_key_an_item_of_one_part_and_a_removal_of_another_is_apart_too(tmp_path: Path) -> None:
    fresh = _store(tmp_path / "fresh.db")
    loaded = [
        _part(tmp_path / "p0.db", 0, 30, "a"),
        _store(
            tmp_path / "p1.db",
            "INSERT INTO removals VALUES ('k', 'a', 1, 1, 4, '')",
            f"INSERT INTO offsets VALUES ('{TOPIC}', 1, 5)",
        ),
    ]
    assert merged_parts(fresh, loaded, TOPIC, True, True) == [0]
    assert _rows(fresh, "removals") == []


def test_views_that_applied_records_meanwhile_take_no_part(tmp_path: Path) -> None:
    fresh = _store(tmp_path / "fresh.db", f"INSERT INTO offsets VALUES ('{TOPIC}', 0, 1)")
    loaded = [_part(tmp_path / "p0.db", 0, 30, "a"), _part(tmp_path / "p1.db", 1, 5, "a")]
    assert merged_parts(fresh, loaded, TOPIC, True, True) == []
    assert _rows(fresh, "offsets") == [(TOPIC, 0, 1)]


def test_a_rebuild_merges_all_or_nothing(tmp_path: Path) -> None:
    fresh = _store(tmp_path / "fresh.db")
    loaded = [
        _store(tmp_path / "p0.db", "INSERT INTO items (catalog_id, item_id) VALUES ('k', 'a')"),
        _store(tmp_path / "p1.db", "INSERT INTO items (catalog_id, item_id) VALUES ('k', 'a')"),
        _store(tmp_path / "p2.db", "INSERT INTO items (catalog_id, item_id) VALUES ('k', 'c')"),
    ]
    assert merged_parts(fresh, loaded, TOPIC, False, False) == []
    assert _rows(fresh, "items") == []
