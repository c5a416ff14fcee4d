"""The first catch-up's parts across a SIGKILL (first_load.py). A part holds its partitions' views
and, in the same transactions, the positions they reached (as the live consumer's store does);
the dead letters and restatements of every batch it wrote are in Kafka. A projector killed
mid-load left its parts; its next start (the views still empty) resumes them from those
positions, as the live consumer resumes from its store's after a crash: only the batches the
kill caught between their keeping and their write are kept again (the duplicates any crash
writes). Deleting them and loading again, as before, wrote every dead letter and restatement of
the killed load a second time.

So a first catch-up's parts are named apart from the generations (`views.first-load.<n>.db`),
which a start deletes when a process that died left them (Generations.discard_abandoned), and
only the process holding `views.db.first-load.lock` uses or deletes them: in a rolling restart
the other process may be loading into them."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
import time
from pathlib import Path

INFIX = ".first-load."


def part_path(views: Path) -> Path:
    """A new part's file, beside the views' (named by the clock, like a generation)."""
    return views.with_name(f"{views.stem}{INFIX}{time.time_ns()}{views.suffix}")


def left_behind(views: Path) -> list[Path]:
    """The parts a load left (a killed projector's; or a merged one's, killed before deleting
    them), oldest first."""
    name = re.compile(rf"^{re.escape(views.stem + INFIX)}\d+{re.escape(views.suffix)}$")
    if not views.parent.is_dir():
        return []
    return sorted(p for p in views.parent.iterdir() if name.match(p.name))


def lock(views: Path) -> int | None:
    """Take the parts' lock (a descriptor: closing it lets go); None if another live process
    holds it. The kernel lets go of it when this process dies, however it dies."""
    fd = os.open(views.with_name(views.name + ".first-load.lock"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def held(part: Path, topic: str) -> dict[int, int] | None:
    """Partition -> the position a part's views reached (its committed batches); {} for a part
    killed before its tables or its first batch; None for one that cannot be resumed (another
    topic's, or unreadable)."""
    try:
        with contextlib.closing(sqlite3.connect(part, timeout=30)) as db:
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'offsets'"
            ).fetchone():
                return {}
            rows = db.execute('SELECT topic, "partition", next_offset FROM offsets').fetchall()
    except sqlite3.Error:
        return None
    if any(t != topic for t, _, _ in rows):
        return None
    return {int(p): int(o) for _, p, o in rows}


def resumable(found: list[dict[int, int] | None], ends: dict[int, int]) -> bool:
    """Whether parts that reached `found` can go on against a topic ending at `ends`: each read,
    no partition in two of them (one load's parts never share one), none past its partition's
    end (a topic deleted and made again: the parts hold another log's records). Pure."""
    seen: set[int] = set()
    for positions in found:
        if positions is None:
            return False
        for partition, offset in positions.items():
            if partition in seen or offset > ends.get(partition, 0):
                return False
            seen.add(partition)
    return True


def resumed_groups(
    found: list[dict[int, int]], targets: dict[int, int], ends: dict[int, int], workers: int
) -> list[dict[int, int]]:
    """What each part loads now, partition -> its end: the first `len(found)` groups are the
    parts left behind, each going on with the partitions it holds (views of a partition are in
    one part only); the partitions no part holds go, largest first, to the group with the fewest
    records left, among the old parts and new ones up to `workers` groups. A group may be
    empty (its part has nothing to do). Pure."""
    groups = [
        {p: max(ends.get(p, 0), o) for p, o in sorted(positions.items())} for positions in found
    ]
    left = [sum(max(ends.get(p, 0) - o, 0) for p, o in positions.items()) for positions in found]
    holding = {p for positions in found for p in positions}
    free = sorted(
        ((t, p) for p, t in targets.items() if p not in holding), key=lambda x: (-x[0], x[1])
    )
    while len(groups) < min(workers, len(found) + len(free)):
        groups.append({})
        left.append(0)
    for target, partition in free:
        n = min(range(len(groups)), key=lambda i: (left[i], len(groups[i]), i))
        groups[n][partition] = target
        left[n] += target
    return groups
