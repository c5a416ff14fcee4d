"""What a rebuild's load would gain from the machine's second core (issue #11): the same preloaded
topic loaded into a new SQLite generation the way a rebuild's builder loads it (the real
ConsumerLoop, no change feed, read indexes after the load), by one process (A) and by two
processes on disjoint partition groups into files of their own, merged by SQL into one (B: the
service's split load, projector.rebuild_split, CATALOG_PROJECTOR_REBUILD_WORKERS=2). Items are
keyed by product and partitioned by key, so the groups are disjoint in items and the merge is a
copy of every table, the catalogs' counts added up. Rounds interleave A and B on one broker;
each round checks that both arms hold the same views.

    PYTHONPATH=. .venv/bin/python -m bench.rebuild_split_ab --products 50000 --versions 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.harness import PARTITIONS, broker_workspace, end_offsets, new_product_topic
from bench.projector_bench import preload
from projector.consumer import ConsumerLoop
from projector.metrics import ProjectorMetrics
from projector.rebuild_split import groups, merge
from projector.rebuild_split_worker import Orders, orders_bytes
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore

TABLES = ("items", "removals", "catalogs", "offsets", "owed_restatements", "changes")


class _AssignedLoop(ConsumerLoop):
    """The consumer loop on partitions given to it, not on the ones a group would assign."""

    partitions: tuple[int, ...] = ()

    def _subscribed(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            **self.settings.consumer_options(),  # committed records only, as the services
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumer.assign([TopicPartition(self.settings.topic, p) for p in self.partitions])
        return consumer

    async def _start(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        await consumer.start()
        await self._seek_to_stored(consumer, consumer.assignment())


async def _load(
    bootstrap: str, topic: str, path: Path, partitions: list[int], indexes: bool
) -> None:
    settings = ProjectorSettings(
        bootstrap_servers=bootstrap, topic=topic, group_id=f"split-{path.name}", restate=False
    )
    store = SqliteStore(path)
    store.create(False)
    _AssignedLoop.partitions = tuple(partitions)
    feed_from = dict.fromkeys(partitions, 1 << 62)  # as a rebuild below the active positions
    loop = _AssignedLoop(settings, store, ProjectorMetrics(), feed_from=feed_from)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    while not loop.caught_up():
        if task.done():
            task.result()
        await asyncio.sleep(0.1)
    stop.set()
    await task
    if indexes:
        store.create(True)
    store.close()


def _loader(bootstrap: str, topic: str, path: Path, partitions: list[int], indexes: bool) -> Any:
    parts = ",".join(map(str, partitions))
    args = [sys.executable, "-m", "bench.rebuild_split_ab", "--load", bootstrap, topic, str(path)]
    return subprocess.Popen([*args, parts, "1" if indexes else "0"])


def _wait(processes: list[Any]) -> None:
    try:
        codes = [process.wait() for process in processes]
    finally:
        for process in processes:  # none outlives the round, even when one failed
            process.kill()
            process.wait()
    if any(codes):
        raise RuntimeError(f"a loader failed: exit codes {codes}")


def one_process(bootstrap: str, topic: str, work: Path) -> tuple[float, Path]:
    path = work / f"a-{uuid.uuid4().hex[:6]}.db"
    started = time.perf_counter()
    _wait([_loader(bootstrap, topic, path, list(range(PARTITIONS)), True)])
    return time.perf_counter() - started, path


def two_processes(bootstrap: str, topic: str, work: Path) -> tuple[float, float, Path]:
    """The service's split load (projector.rebuild_split): its worker processes up to the
    topic's ends (an active generation caught up), its merge, then the read indexes."""
    started = time.perf_counter()
    settings = ProjectorSettings(bootstrap_servers=bootstrap, topic=topic, restate=False)
    split = groups(end_offsets(bootstrap, topic), 2)
    parts = [work / f"b{i}-{uuid.uuid4().hex[:6]}.db" for i in range(len(split))]
    processes = []
    for path, targets in zip(parts, split, strict=True):
        SqliteStore(path).create(False)
        process = subprocess.Popen(
            [sys.executable, "-m", "projector.rebuild_split_worker"], stdin=subprocess.PIPE
        )
        assert process.stdin is not None
        process.stdin.write(orders_bytes(Orders(settings, path, targets, os.getpid())))
        process.stdin.flush()  # left open: the worker ends when it closes
        processes.append(process)
    _wait(processes)
    loaded = time.perf_counter() - started
    merged = work / f"b-{uuid.uuid4().hex[:6]}.db"
    store = SqliteStore(merged)
    store.create(False)
    if not merge(merged, parts, topic):
        raise RuntimeError("parts share a key")
    store.create(True)  # the read indexes, as the rebuild's switch builds them
    store.close()
    return time.perf_counter() - started, loaded, merged


def views(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}  # noqa: S608
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", nargs=5, help=argparse.SUPPRESS)  # a loader process
    args = parser.parse_args()
    if args.load:
        bootstrap, topic, path, parts, indexes = args.load
        partitions = [int(p) for p in parts.split(",")]
        asyncio.run(_load(bootstrap, topic, Path(path), partitions, indexes == "1"))
        return
    # The broker's data and every round's files are in `work`, removed at the end.
    with broker_workspace("rebuild-split-") as (work, bootstrap):
        topic = new_product_topic(bootstrap, "split", partitions=PARTITIONS)
        total = asyncio.run(preload(bootstrap, topic, args.products, args.versions))
        print(f"preloaded {total} events", flush=True)
        for n in range(args.rounds):
            a, a_path = one_process(bootstrap, topic, work)
            b, loaded, b_path = two_processes(bootstrap, topic, work)
            same = views(a_path) == views(b_path)
            print(
                f"round {n}: A one process {a:.1f}s ({total / a:.0f}/s); B two processes "
                f"{b:.1f}s ({total / b:.0f}/s; load {loaded:.1f}s, merge {b - loaded:.1f}s); "
                f"A/B {a / b:.2f}x; same views: {same}",
                flush=True,
            )


if __name__ == "__main__":
    main()
