"""The worker processes of a load in parts (rebuild_split.py): started with their orders, watched
until all succeeded (the first to fail fails the load; every one still running is killed, also
when the load is cancelled), and their progress read from their part files meanwhile: the
rebuild's progress and metrics, or a first catch-up's lag per partition."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import TYPE_CHECKING

from projector.consumer import ConsumerLoop
from projector.errors import ProjectorError
from projector.rebuild_split_merge import SplitLoadFailed
from projector.rebuild_split_worker import Orders, orders_bytes
from projector.sqlite_store import SqliteStore

if TYPE_CHECKING:
    from projector.rebuild_status import RebuildStatus
    from projector.runtime import Runtime

WORKER = "projector.rebuild_split_worker"


async def run_workers(
    runtime: Runtime,
    parts: list[SqliteStore],
    split: list[dict[int, int]],
    status: RebuildStatus,
    first_load: bool,
    outputs: list[asyncio.Future[bytes]],
) -> list[bytes]:
    """Run one worker per part until all succeeded; the first to fail fails the load, and
    every worker still running is killed (also when this is cancelled). What a first
    catch-up's workers wrote on their stdout: what they counted (part_counts.py)."""
    started: list[asyncio.subprocess.Process] = []
    status.target = sum(sum(g.values()) for g in split)
    if first_load:  # the lag from its start: a scrape before the first report says it too
        _first_load_lag(runtime, split, [{} for _ in split])
    try:
        for part, targets in zip(parts, split, strict=True):
            orders = Orders(
                runtime.settings, part.path, targets, os.getpid(), first_load,
                ConsumerLoop.catchup_factor,  # the parts batch as this process's loop would
            )  # fmt: skip
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", WORKER, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE if first_load else None,
            )  # fmt: skip
            started.append(process)
            if process.stdout is not None:  # read as it comes: a full pipe would block it
                outputs.append(asyncio.ensure_future(process.stdout.read()))
            assert process.stdin is not None
            process.stdin.write(orders_bytes(orders))  # then left open: it watches for its end
            await process.stdin.drain()
        waits = {asyncio.ensure_future(p.wait()): n for n, p in enumerate(started)}
        pending = set(waits)
        while pending:
            done, pending = await asyncio.wait(pending, timeout=0.2)
            for ended in done:
                if (code := ended.result()) != 0:
                    raise SplitLoadFailed(f"rebuild part {waits[ended]} exited with {code}")
            await _report(runtime, parts, split, status, first_load)
        return [await output for output in outputs]
    finally:
        for process in started:
            if process.returncode is None:
                process.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(process.wait())
            if process.stdin is not None:
                process.stdin.close()


async def _report(
    runtime: Runtime,
    parts: list[SqliteStore],
    split: list[dict[int, int]],
    status: RebuildStatus,
    first_load: bool,
) -> None:
    """How far the parts are, as the rebuild's progress (their files read, not written); the
    rebuild's metrics for a rebuild, the live consumer's lag for a first catch-up (the records
    left, as /readyz says them: one process's lag while it catches up)."""
    reached: list[dict[int, int]] = []
    for part in parts:
        found: dict[int, int] = {}
        with contextlib.suppress(ProjectorError):  # a worker may still be creating its tables
            found = await asyncio.to_thread(part_positions, part, runtime)
        reached.append(found)
    # No await from here: /readyz and /metrics never see two different reports.
    status.applied = applied = sum(sum(found.values()) for found in reached)
    if first_load:
        _first_load_lag(runtime, split, reached)
    else:
        runtime.metrics.rebuild_applied.set(applied)
        runtime.metrics.rebuild_target.set(status.target)


def _first_load_lag(
    runtime: Runtime, split: list[dict[int, int]], reached: list[dict[int, int]]
) -> None:
    """`projector_lag` per partition: its target less where its part is (never past it)."""
    for targets, found in zip(split, reached, strict=True):
        for partition, target in targets.items():
            left = max(0, target - found.get(partition, 0))
            runtime.metrics.lag.labels(str(partition)).set(left)


def part_positions(part: SqliteStore, runtime: Runtime) -> dict[int, int]:
    try:
        return part.positions(runtime.settings.topic)
    finally:
        part.close()
