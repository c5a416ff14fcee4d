"""One process of a split rebuild (rebuild_split.py): the rebuild's consumer loop on a group of
partitions, into a SQLite file of its own (a part), up to the positions the rebuild targets and
never past them. Below those positions a one-process rebuild's builder feeds no change, keeps no
dead letter and restates nothing (the active generation did all of that), so this loop has none
of those either: what it writes is what that builder would have written for the same records.

A first catch-up in parts (first_load.py, `Orders.first_load`) is the other way round: no
generation kept anything of these records, so the loop does all the live consumer does for them,
as the live consumer does it: feeds every change, dead-letters the unreadable records, restates
(or owes the restatements, in the part: the merge copies the debts) and retries what it owes.

Started by the rebuild with `python -m projector.rebuild_split_worker`; its orders come pickled
on stdin (the Kafka settings may hold credentials: never on the command line), and stdin then
stays open: its end, or the parent-death signal, ends this process at once when the rebuild's
process dies, however it dies. The loop is rebuild_part_loop.py, the part's file
rebuild_part_store.py."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import pickle
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from projector.consumer import ConsumerLoop
from projector.part_counts import counts_line, delivery_line
from projector.rebuild_part_loop import TargetLoop
from projector.rebuild_part_store import PartStore
from projector.settings import ProjectorSettings
from runtime_support.logs import configure_logging

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
STDIN, STDOUT = 0, 1


@dataclass(frozen=True)
class Orders:
    settings: ProjectorSettings
    path: Path  # the part's file, its tables created (without the read indexes)
    targets: dict[int, int]  # partition -> load every record below this offset, none at or past
    parent: int  # the rebuild's process id
    first_load: bool = False  # a first catch-up: feed, keep and restate as the live consumer
    catchup_factor: int = ConsumerLoop.catchup_factor  # the parent's (a test may set it)


async def load(orders: Orders) -> None:
    started = time.perf_counter()
    log.info("rebuild part started", extra={"part": orders.path.name})
    store = PartStore(orders.path)
    loop = TargetLoop(orders.settings, store, orders.targets, orders.first_load)
    loop.catchup_factor = orders.catchup_factor
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        while not await loop.done():
            if task.done():
                task.result()  # raises what ended it
                raise RuntimeError("the part's consumer loop stopped before its targets")
            await asyncio.sleep(0.05)
        stop.set()
        await task
        positions = store.positions(orders.settings.topic)
        if any(positions.get(p, 0) > t for p, t in orders.targets.items()):  # never: a defect
            raise RuntimeError(f"a part went past its targets: {positions} > {orders.targets}")
        if orders.first_load:
            assert loop.delivery is not None
            # (its logs go to stderr; the counts line last, read_counts reads the last line)
            os.write(STDOUT, delivery_line(loop.delivery) + counts_line(loop.metrics))
        seconds = round(time.perf_counter() - started, 3)
        log.info("rebuild part loaded", extra={"part": orders.path.name, "seconds": seconds})
    finally:
        stop.set()
        if not task.done():
            task.cancel()
        if loop.writer is not None:
            await loop.writer.stop()
        store.close()


def die_with(parent: int) -> None:
    """End this process as soon as `parent` dies: the kernel's parent-death signal, and the end
    of stdin (the parent's end of the pipe closes with it) for any case the signal misses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(3)

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread inside a buffered reader's lock aborts the
        # interpreter's shutdown (SIGABRT, found by the equivalence test).
        while os.read(STDIN, 4096):
            pass
        os._exit(3)  # no cleanup: the rebuild (or the next start) deletes the part

    threading.Thread(target=watch, daemon=True).start()


def read_orders() -> Orders:
    size = int.from_bytes(_read_exactly(8), "big")
    orders = pickle.loads(_read_exactly(size))  # noqa: S301 (from the parent process, by a pipe)
    if not isinstance(orders, Orders):
        raise TypeError(f"not orders: {type(orders)}")
    return orders


def _read_exactly(size: int) -> bytes:
    data = b""
    while len(data) < size:
        if not (more := os.read(STDIN, size - len(data))):
            raise EOFError("the rebuild's orders were cut short")
        data += more
    return data


def orders_bytes(orders: Orders) -> bytes:
    data = pickle.dumps(orders)
    return len(data).to_bytes(8, "big") + data


def main() -> None:
    orders = read_orders()
    die_with(orders.parent)
    configure_logging()  # on the rebuild's stderr, as its own logs
    asyncio.run(load(orders))


if __name__ == "__main__":
    # Run as the package's module, not as __main__: the pickled orders name its classes.
    from projector.rebuild_split_worker import main as package_main

    package_main()
