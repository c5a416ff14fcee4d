# ruff: noqa: S608 (fixed rows of a test written as SQL text)
"""When a first catch-up loads in parts, up to where (first_load.first_load_targets), and how
its parts are merged into the active generation, feed and debts included (rebuild_split_merge
with `first_load`): exact values, on SQLite files."""

from __future__ import annotations

from pathlib import Path

from catalog_contract.headers import RESTATES
from projector.delivery import DeliveryStats
from projector.first_load import first_load_targets
from projector.metrics import ProjectorMetrics
from projector.part_counts import (
    add_counts,
    counted,
    counts_line,
    delivery_line,
    kept_line,
    read_counts,
    read_delivery,
    read_kept,
)
from projector.rebuild_split import merge
from projector.sqlite_store import SqliteStore
from tests.unit.test_delivery import NOW_S, feed, postback

TOPIC = "t"


def test_a_long_topic_loads_up_to_its_ends() -> None:
    assert first_load_targets({}, {0: 60, 1: 40}, 100) == {0: 60, 1: 40}
    # Records are counted from each partition's beginning (compaction, retention).
    assert first_load_targets({0: 10}, {0: 60, 1: 40}, 90) == {0: 60, 1: 40}
    # A partition without records is left out: nothing for a worker to load there.
    assert first_load_targets({3: 3}, {0: 10, 1: 0, 2: 7, 3: 3}, 17) == {0: 10, 2: 7}
    assert first_load_targets({}, {0: 1, 1: 1, 2: 1}, 1) == {0: 1, 1: 1, 2: 1}


def test_anything_else_catches_up_in_one_process() -> None:
    assert first_load_targets({0: 10}, {0: 60, 1: 40}, 91) is None  # too few records
    assert first_load_targets({1: 40}, {0: 60, 1: 40}, 1) is None  # one partition to load
    assert first_load_targets({}, {}, 1) is None  # no partition at all


def _store(path: Path, *statements: str, indexes: bool = False) -> Path:
    store = SqliteStore(path)
    store.create(indexes)
    with store._transaction() as cursor:  # rows as a part's batches leave them
        for statement in statements:
            cursor.execute(statement)
    store.close()
    return path


def _rows(path: Path, query: str) -> list[tuple[object, ...]]:
    store = SqliteStore(path)
    try:
        return store._query(query)
    finally:
        store.close()


def _change(item: str, partition: int, offset: int) -> str:
    return (
        'INSERT INTO changes (kind, catalog_id, item_id, old, new, event_id, "partition", '
        f"\"offset\") VALUES ('added', 'k', '{item}', NULL, '{{}}', 'e{offset}', {partition}, "
        f"{offset})"
    )


def _part(path: Path, partition: int, items: list[str], offsets: list[int]) -> Path:
    return _store(
        path,
        *[f"INSERT INTO items (catalog_id, item_id) VALUES ('k', '{i}')" for i in items],
        # a part's feed numbered from 1, as every part's is: numbered anew in the merge
        *[_change(i, partition, o) for i, o in zip(items, offsets, strict=True)],
        f"INSERT INTO owed_restatements VALUES ('k', '{items[0]}', {partition}, {offsets[0]})",
        f"INSERT INTO catalogs VALUES ('k', {len(items)}, 0, 0, {partition})",
        f"INSERT INTO offsets VALUES ('{TOPIC}', {partition}, {offsets[-1] + 1})",
    )


def test_a_first_load_merges_the_feed_part_by_part_and_the_debts(tmp_path: Path) -> None:
    active = _store(tmp_path / "views.db", indexes=True)  # the active generation: indexed
    parts = [
        _part(tmp_path / "p0.db", 0, ["b", "a"], [0, 4]),
        _part(tmp_path / "p1.db", 1, ["d", "c", "e"], [2, 3, 7]),
    ]
    assert merge(active, parts, TOPIC, first_load=True)
    feed = 'SELECT seq, item_id, "partition", "offset", event_id FROM changes ORDER BY seq'
    assert _rows(active, feed) == [
        (1, "b", 0, 0, "e0"), (2, "a", 0, 4, "e4"),
        (3, "d", 1, 2, "e2"), (4, "c", 1, 3, "e3"), (5, "e", 1, 7, "e7"),
    ]  # fmt: skip
    assert _rows(active, "SELECT * FROM owed_restatements ORDER BY 1, 2") == [
        ("k", "b", 0, 0),
        ("k", "d", 1, 2),
    ]
    assert _rows(active, "SELECT * FROM catalogs") == [("k", 5, 0, 0, 1)]
    assert _rows(active, "SELECT * FROM offsets ORDER BY 2") == [(TOPIC, 0, 5), (TOPIC, 1, 8)]
    indexes = "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'items_by%'"
    assert sorted(_rows(active, indexes)) == [("items_by_price",), ("items_by_stock_in_order",)]


def test_a_first_load_merges_nothing_into_views_that_applied_something_meanwhile(
    tmp_path: Path,
) -> None:
    # Another process's live consumer on the same file (a rolling restart) applied a batch:
    # the parts are not merged (the live consumer loads them), and no defect is raised.
    active = _store(
        tmp_path / "views.db",
        "INSERT INTO items (catalog_id, item_id) VALUES ('k', 'b')",
        f"INSERT INTO offsets VALUES ('{TOPIC}', 0, 1)",
        indexes=True,
    )
    parts = [
        _part(tmp_path / "p0.db", 0, ["b", "a"], [0, 4]),
        _part(tmp_path / "p1.db", 1, ["d"], [2]),
    ]
    assert not merge(active, parts, TOPIC, first_load=True)
    assert _rows(active, "SELECT item_id FROM items") == [("b",)]
    assert _rows(active, "SELECT COUNT(*) FROM changes") == [(0,)]
    assert _rows(active, "SELECT * FROM offsets") == [(TOPIC, 0, 1)]


def test_a_parts_counts_go_through_its_stdout_into_the_projectors_counters() -> None:
    part = ProjectorMetrics()
    part.events.labels("applied").inc(7)
    part.events.labels("stale").inc(2)
    part.dead_lettered.inc(3)
    part.restatements.labels("snapshot").inc(1)
    part.batch_seconds.observe(0.5)  # not a count of records: stays the part's
    line = counts_line(part)
    assert line == (
        b'{"dead_lettered": {"": 3.0}, "events": {"applied": 7.0, "stale": 2.0}, '
        b'"restatements": {"snapshot": 1.0}}\n'
    )
    projector = ProjectorMetrics()
    projector.events.labels("applied").inc(1)
    add_counts(projector, read_counts(b"something else first\n" + line))
    add_counts(projector, read_counts(b""))  # a worker that wrote nothing: nothing added
    assert read_counts(b"Traceback ...\n") == read_counts(b"[1]\n") == {}  # no counts
    add_counts(projector, {"dead_lettered": {"x": 1.0}, "events": {"stale": -1.0}})  # ignored
    assert counted(projector) == {
        "dead_lettered": {"": 3.0},
        "events": {"applied": 8.0, "stale": 2.0},
        "restatements": {"snapshot": 1.0},
    }


def test_a_parts_delivery_figures_go_through_its_stdout_into_the_projectors() -> None:
    """The since-start figures of the postbacks a part read, added to the projector's
    statistics as if it had read them (one process did); the windows travel beside them
    (tests/unit/test_delivery_windows.py adds them up)."""
    part = DeliveryStats()
    feed(part, postback(0, delay_s=30), postback(1, delay_s=700), postback(2, "7", delay_s=None))
    part.observe([(postback(3), [(RESTATES, b"0:1")])])  # the projector's own: no postback
    line = delivery_line(part)
    assert line == (
        b'{"delivery": [["42", 2, 1795867140.0, [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], '
        b'730.0], ["7", 1, 1795867140.0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.0]], '
        # and the windows: per catalog, the minute slots then the hour slots it used (the
        # minute and the hour 60 s before NOW: 29,931,119 and 498,851)
        b'"windows": [["42", [[29931119, 2, [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], 730.0, '
        b"0.0]], [[498851, 2, [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], 730.0, 0.0]]], "
        b'["7", [[29931119, 1, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.0, 0.0]], '
        b"[[498851, 1, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.0, 0.0]]]]}\n"
    )
    projector = DeliveryStats()
    feed(projector, postback(9, delay_s=5, ago_s=30))
    output = b"log\n" + line + counts_line(ProjectorMetrics())
    projector.add_totals(read_delivery(output))
    assert read_counts(output) == {}
    found = projector.delivery("42", NOW_S)
    assert found is not None
    assert found.received_total == 3
    assert found.last_received_s == NOW_S - 30  # the newest of both
    assert found.last_hour.received == 1  # add_totals: the windows only what was observed here
    totals = {t.catalog_id: t for t in projector.totals()}
    assert totals["42"].buckets == (0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)
    assert totals["42"].delay_sum == 735
    assert totals["7"].received == 1
    assert read_delivery(b"") == read_delivery(b'{"delivery": [["x"]]}\n') == []


def test_a_parts_kept_lines_say_the_furthest_each_partition_kept() -> None:
    """A worker says how far it kept after each batch's dead letters (a line on its stdout,
    among the others): the furthest per partition, whatever else is there."""
    assert kept_line({0: 10, 2: 5}) == b'{"kept": {"0": 10, "2": 5}}\n'
    output = kept_line({0: 10}) + b"log\n" + kept_line({0: 30, 2: 5}) + b'{"kept": 7}\n'
    output += kept_line({0: 20}) + b'{"kept": {"1": "x"}}\n' + counts_line(ProjectorMetrics())
    assert read_kept(output) == {0: 30, 2: 5}
    assert read_kept(b"") == read_kept(b'{"kept": {"1"\n') == {}
    assert read_counts(output) == {}  # the counts line stays the last
