"""What a rebuild (rebuilding.py) or a first catch-up in parts (first_load.py) says of itself
while it runs and once it ended (Runtime.rebuild_status, Runtime.first_load): a record, and the
words of a failure. Shared by those modules, the follower of another instance's switch and the
split load (rebuild_split.py, which rebuilding.py imports), and importing none of them."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class RebuildStatus:
    state: str = "idle"  # idle | running | done | failed
    generation: str = ""
    applied: int = 0
    target: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None


def reason(exc: BaseException) -> str:
    """The status's `error` for a rebuild that `exc` ended."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled: the projector stopped before the rebuild ended"
    return str(exc)


def phase(name: str, since: float) -> float:
    """Log how long a step of the rebuild took (where a rebuild's time goes: bench/rebuild_ab)."""
    now = time.perf_counter()
    log.info("rebuild step", extra={"step": name, "seconds": round(now - since, 3)})
    return now
