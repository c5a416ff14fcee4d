"""One split-rebuild worker (projector.rebuild_split_worker) of a git revision (A) and of the
working tree (B), each loading the same half of a preloaded topic's partitions into an empty
part, in interleaved rounds (the order swaps each round): wall time, and the worker's own CPU
time and peak RSS (os.wait4), which a machine shared with other work disturbs less than wall
time. What the workers' share of a rebuild costs (issue #11); bench/rebuild_ab times the whole.

    PYTHONPATH=services:. .venv/bin/python -m bench.rebuild_worker_ab --against main \
        --products 60000 --versions 2 --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.harness import PARTITIONS, end_offsets, old_tree, spy
from bench.projector_bench import preload
from catalog_contract import topics
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all
from projector.rebuild_split_worker import Orders, orders_bytes
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore


def one_worker(
    orders: Orders, pythonpath: str, profile: Path | None = None
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one worker loading `orders`; with
    `profile`, py-spy's raw samples of it there."""
    SqliteStore(orders.path).create(False)
    command = [sys.executable, "-m", "projector.rebuild_split_worker"]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, env={**os.environ, "PYTHONPATH": pythonpath}
    )
    assert process.stdin is not None
    spying = spy(process.pid, profile, rate=250) if profile is not None else None
    process.stdin.write(orders_bytes(orders))
    process.stdin.flush()  # left open: the worker ends when it closes
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = status
    process.stdin.close()
    if spying is not None:
        spying.wait()
    if status != 0:
        raise RuntimeError(f"a worker failed: wait status {status}")
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", metavar="REV", default="main")
    parser.add_argument("--products", type=int, default=60_000)
    parser.add_argument("--versions", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--profile", type=Path, help="a folder: py-spy's samples of B's workers")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the broker stops (`finally`)
    work = Path(tempfile.mkdtemp(prefix="rebuild-worker-ab-"))
    broker = LocalBroker(work / "kafka", port=free_port(), controller_port=free_port())
    broker.start()
    try:
        old = old_tree(args.against, work / "old")
        paths = {"A": f"{old}:{work / 'old'}:.", "B": "services:."}
        bootstrap = broker.bootstrap_servers
        spec = topics.product_topic(f"ab.worker.{uuid.uuid4().hex[:6]}", partitions=PARTITIONS)
        asyncio.run(ensure_all(bootstrap, [spec]))
        total = asyncio.run(preload(bootstrap, spec.name, args.products, args.versions))
        ends = end_offsets(bootstrap, spec.name)
        targets = {p: ends[p] for p in range(PARTITIONS // 2)}  # one worker's half
        print(f"preloaded {total} events; a worker loads {sum(targets.values())}", flush=True)
        settings = ProjectorSettings(bootstrap_servers=bootstrap, topic=spec.name, restate=False)
        cpu: dict[str, list[float]] = {"A": [], "B": []}
        for n in range(args.rounds):
            line = [f"round {n}:"]
            for name in ("A", "B") if n % 2 == 0 else ("B", "A"):
                orders = Orders(settings, work / f"{name}{n}.db", targets, os.getpid())
                profile = args.profile / f"B{n}.txt" if args.profile and name == "B" else None
                wall, seconds, rss = one_worker(orders, paths[name], profile)
                cpu[name].append(seconds)
                line.append(f"{name} {wall:.1f}s wall, {seconds:.2f}s CPU, {rss} MiB")
            print(" ".join(line), flush=True)
        each = [b / a for a, b in zip(cpu["A"], cpu["B"], strict=True)]
        listed = ", ".join(f"{r:.2f}" for r in each)
        print(f"A = {args.against}, B = working tree; CPU B/A median "
              f"{statistics.median(each):.2f}x (rounds: {listed})")  # fmt: skip
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
