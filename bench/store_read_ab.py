"""The view store's read hot path (`_query`, under every read API query), old against new, in one
process on one SQLite file: wall µs per item read (perf_counter_ns around each `item_row`),
median and p99 over all reads, in interleaved rounds (ABBA), from `--threads` threads at once.

    PYTHONPATH=services:. .venv/bin/python -m bench.store_read_ab --reads 20000 --rounds 8

old = the read before store_connections.py: this thread's connection from a threading.local,
no lock; a `close` from another thread closed it under a running statement.
new = ViewStore._query: this thread's connection held (a re-entrant lock) for the statement.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.factories import change

from projector.batch import plan_batch
from projector.records import Incoming
from projector.sqlite_store import SqliteStore
from projector.store_reads import ITEMS_Q


class OldReads(SqliteStore):
    """The read path as it was (the failure paths left out: no read fails here)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._old = threading.local()

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        connection = getattr(self._old, "connection", None)
        if connection is None:
            connection = self._old.connection = self._connect()
        cursor = connection.cursor()
        cursor.execute(self._sql(statement), params)
        rows = list(cursor.fetchall())
        connection.commit()
        return rows


def _filled(path: Path, items: int) -> list[tuple[str, str]]:
    store = SqliteStore(path)
    store.create()
    events = [change(f"sku-{n}", price=str(n % 500 + 1)) for n in range(items)]
    records = [Incoming(0, n, e.catalog_id, e.catalog_item_id, e) for n, e in enumerate(events)]
    store.write("t", plan_batch(records, {}, lambda key: None))
    store.close()
    return [(e.catalog_id, e.catalog_item_id) for e in events]


def _round(store: SqliteStore, keys: list[tuple[str, str]], reads: int, threads: int) -> list[int]:
    """Each thread reads `reads // threads` items: every read's wall time, in ns."""
    timings: list[list[int]] = [[] for _ in range(threads)]
    statement = f"SELECT {ITEMS_Q} FROM items WHERE catalog_id = ? AND item_id = ?"  # noqa: S608
    start = threading.Barrier(threads)

    def read(n: int) -> None:
        mine, clock = timings[n], time.perf_counter_ns
        start.wait()
        for i in range(n, reads, threads):
            began = clock()
            store._query(statement, keys[i % len(keys)])
            mine.append(clock() - began)

    workers = [threading.Thread(target=read, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [t for mine in timings for t in mine]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-read-ab-") as scratch:
        path = Path(scratch) / "views.db"
        keys = _filled(path, args.items)
        stores = {"old": OldReads(path), "new": SqliteStore(path)}
        for store in stores.values():  # warm: connections open, pages cached
            _round(store, keys, 2000, args.threads)
        every: dict[str, list[int]] = {"old": [], "new": []}
        medians: dict[str, list[float]] = {"old": [], "new": []}
        for n in range(args.rounds):
            order = ("old", "new") if n % 4 in (0, 3) else ("new", "old")  # ABBA
            for name in order:
                timings = _round(stores[name], keys, args.reads, args.threads)
                every[name].extend(timings)
                medians[name].append(statistics.median(timings) / 1000)
        for store in stores.values():
            store.close()
    figures = {}
    for name, timings in every.items():
        timings.sort()
        p50 = timings[len(timings) // 2] / 1000
        p99 = timings[int(len(timings) * 0.99)] / 1000
        figures[name] = (p50, p99)
        rounds = " ".join(f"{m:.1f}" for m in medians[name])
        print(f"{name}: p50 {p50:.2f} µs  p99 {p99:.2f} µs  (round medians: {rounds})")
    (old50, old99), (new50, new99) = figures["old"], figures["new"]
    print(f"new/old: p50 {new50 / old50:.3f}x  p99 {new99 / old99:.3f}x  ({args.threads} threads)")


if __name__ == "__main__":
    main()
