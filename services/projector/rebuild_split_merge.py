"""The merge of a load in parts (rebuild_split.py): one transaction copies the parts' rows into
the generation they were loaded for and adds up the catalogs' counts. A rebuild's parts hold no
change and no debt (below the active generation's positions none is written); a first catch-up's
(first_load.py) hold every change and debt the live consumer would have written, copied too: the
changes part after part, each part's in its own order, so a partition's (one part's) stay in
theirs and only partitions of different parts interleave differently than in one process."""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from pathlib import Path

from projector.errors import ProjectorError
from projector.rows import ITEM_COLUMNS, REMOVAL_COLUMNS
from projector.store_schema import INDEX_STATEMENTS
from projector.store_write import FEED_INSERT_COLUMNS

log = logging.getLogger(__name__)


class SplitLoadFailed(ProjectorError):
    """A part of the load failed: the rebuild fails (the active generation keeps serving)."""


_ITEMS = ", ".join(f'"{c}"' for c in ITEM_COLUMNS)
_REMOVALS = ", ".join(f'"{c}"' for c in REMOVAL_COLUMNS)
_CHANGES = ", ".join(f'"{c}"' for c in FEED_INSERT_COLUMNS)  # numbered anew, as they come
_COPIES = {
    "items": _ITEMS,
    "removals": _REMOVALS,
    "owed_restatements": 'catalog_id, item_id, "partition", "offset"',
    "offsets": 'topic, "partition", next_offset',
}
# As a batch adds a catalog's counts (store_write.BatchWrite.count_catalog), a part at a time.
_ADD_CATALOGS = (
    "INSERT INTO catalogs (catalog_id, item_count, in_stock, out_of_stock, last_change_at) "
    "SELECT catalog_id, item_count, in_stock, out_of_stock, last_change_at FROM {part}.catalogs "
    "WHERE true ON CONFLICT (catalog_id) DO UPDATE SET "
    "item_count = catalogs.item_count + excluded.item_count, "
    "in_stock = catalogs.in_stock + excluded.in_stock, "
    "out_of_stock = catalogs.out_of_stock + excluded.out_of_stock, "
    "last_change_at = CASE WHEN excluded.last_change_at > COALESCE(catalogs.last_change_at, 0) "
    "THEN excluded.last_change_at ELSE catalogs.last_change_at END"
)
_INDEXES = [re.findall(r"EXISTS (\w+) ON", s)[0] for s in INDEX_STATEMENTS]


class _NotMerged(Exception):
    """A key is in two parts, or the active generation applied records meanwhile (a first
    catch-up's): the merge takes nothing."""


class _Applied(_NotMerged):
    """The active generation applied records meanwhile (another process's live consumer): no
    part can be merged into it (their items are from records it holds too), and the live
    consumer goes on from its positions: not a second read of the topic."""


def merge(fresh: Path, parts: list[Path], topic: str, first_load: bool = False) -> bool:
    """Copy the parts into the empty generation `fresh` in one transaction; False (nothing
    copied) if a key is in two of them, or (`first_load`, `fresh` the active generation) if
    `fresh` is not empty any more."""
    return len(merged_parts(fresh, parts, topic, first_load, False)) == len(parts)


def merged_parts(
    fresh: Path, parts: list[Path], topic: str, first_load: bool, partly: bool
) -> list[int]:
    """Merge the parts as `merge` does; the indexes of the parts merged. `partly` (a first
    catch-up's): where two parts hold one key, merge instead the most records of parts no two
    of which share a key (one transaction still), and leave the others' partitions to the live
    consumer, which reads them from their beginning. Their views cannot be combined: each part
    folded only its own partitions' records of that key, and the fields a partial postback left
    out, a stale retry, an untimed postback are judged against what the item held before, which
    no part knew whole (so those partitions are read a second time; the merged ones are not:
    one process could have applied all their records first, then the others')."""
    db = sqlite3.connect(fresh, timeout=30, isolation_level=None)
    try:
        for n, part in enumerate(parts):  # outside the transaction, as SQLite requires
            db.execute(f"ATTACH DATABASE ? AS part{n}", (str(part),))
        chosen = list(range(len(parts)))
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                _copy(db, chosen, topic, first_load)
            except (_NotMerged, sqlite3.IntegrityError) as exc:
                _roll_back(db)
                log.info(
                    "%s parts not merged: %s", "first catch-up" if first_load else "rebuild", exc
                )
                if not partly or isinstance(exc, _Applied) or len(chosen) < len(parts):
                    return []
                chosen = _apart(db, chosen)
                if len(chosen) == len(parts):  # (no key in two: refused for another reason)
                    return []
                continue
            except BaseException:
                _roll_back(db)
                raise
            db.execute("COMMIT")
            return chosen
    except sqlite3.Error as exc:
        whose = "first catch-up's" if first_load else "rebuild's"
        raise SplitLoadFailed(f"could not merge the {whose} parts: {exc}") from exc
    finally:
        db.close()


_KEYS = (
    "SELECT catalog_id, item_id FROM {p}.items UNION SELECT catalog_id, item_id FROM {p}.removals "
    "UNION SELECT catalog_id, item_id FROM {p}.owed_restatements"
)


def _apart(db: sqlite3.Connection, parts: list[int]) -> list[int]:
    """Parts no two of which hold one key: the one that applied the most records first (a
    part's records: the sum of its positions), then each next that shares no key with those
    taken; in their order."""
    applied = {
        n: db.execute(f"SELECT COALESCE(SUM(next_offset), 0) FROM part{n}.offsets").fetchone()[0]  # noqa: S608
        for n in parts
    }
    taken: list[int] = []
    for n in sorted(parts, key=lambda n: (-applied[n], n)):
        if not any(_share_a_key(db, n, t) for t in taken):
            taken.append(n)
    return sorted(taken)


def _share_a_key(db: sqlite3.Connection, one: int, other: int) -> bool:
    keys = _KEYS.format(p=f"part{one}"), _KEYS.format(p=f"part{other}")
    query = (
        f"SELECT 1 FROM ({keys[0]}) "  # noqa: S608 (the attached parts' own names)
        f"JOIN ({keys[1]}) USING (catalog_id, item_id) LIMIT 1"
    )
    return db.execute(query).fetchone() is not None


def _roll_back(db: sqlite3.Connection) -> None:
    """SQLite rolls some failures back itself (a full disk, an I/O error): a ROLLBACK then
    fails with "no transaction is active", and that error hid the one being handled."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # (the connection is closed next anyway)
            db.execute("ROLLBACK")


def _copy(db: sqlite3.Connection, parts: list[int], topic: str, first_load: bool) -> None:
    if db.execute("SELECT COUNT(*) FROM offsets").fetchone()[0]:
        if first_load:  # another process's live consumer on the same file (a rolling restart)
            raise _Applied("the active generation applied records meanwhile")
        raise SplitLoadFailed("the new generation is not empty")  # a defect: never merged twice
    if first_load:
        # The active generation has the read indexes: built once after the copy (one sort)
        # rather than updated row by row, in the same transaction (no reader sees it without).
        for index in _INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {index}")
    for n in parts:
        for table in ("changes", "owed_restatements") if not first_load else ():
            # below a rebuild's targets: none (rebuild_split_worker's module doc)
            if db.execute(f"SELECT COUNT(*) FROM part{n}.{table}").fetchone()[0]:  # noqa: S608
                raise SplitLoadFailed(f"a rebuild part wrote {table}")
        if db.execute(
            f"SELECT COUNT(*) FROM part{n}.offsets WHERE topic != ?",  # noqa: S608
            (topic,),
        ).fetchone()[0]:
            raise SplitLoadFailed("a rebuild part holds another topic's offsets")
        for table, columns in _COPIES.items():
            db.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM part{n}.{table}"  # noqa: S608
            )
        db.execute(_ADD_CATALOGS.format(part=f"part{n}"))
        if first_load:
            db.execute(
                f"INSERT INTO changes ({_CHANGES}) SELECT {_CHANGES} FROM part{n}.changes "  # noqa: S608
                "ORDER BY seq"
            )
    # A part keeps a catalog its partitions emptied (rebuild_part_store.PartStore); one
    # process keeps none whose items all went, after any batch.
    db.execute("DELETE FROM catalogs WHERE item_count <= 0")
    # One store never holds a key in both (a batch drops the row or the marker it replaces):
    # here only a key two parts hold would.
    if db.execute(
        "SELECT 1 FROM items JOIN removals USING (catalog_id, item_id) LIMIT 1"
    ).fetchone():
        raise _NotMerged("a key is both an item of one part and a removal of another")
    for statement in INDEX_STATEMENTS if first_load else ():
        db.execute(statement)
