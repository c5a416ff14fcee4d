"""How a rebuild's builder (its ConsumerLoop task) is waited for and stopped: at the switch, let
reach the live consumers' positions (`until_reached`: bounded, else the switch fails) and then
stopped under the pointer row (`stopped`: bounded, likewise), and on a failure (`halted`:
bounded, then cancelled, before the live consumer restarts); and how its hold on the pointer row
is taken (`entered`: never left behind by a cancellation)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from projector.errors import ProjectorError

if TYPE_CHECKING:
    from projector.consumer import ConsumerLoop

log = logging.getLogger(__name__)
# How long a failed rebuild waits for its builder to end its batch and stop, before cancelling
# it: what it writes past that (dead letters, restatements) the live consumer writes again.
BUILDER_STOP_S = 10.0


async def halted(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Stop the builder and wait until it has ended, at most BUILDER_STOP_S then cancelled (a
    batch stuck on its store: bounded). Its own failure is not raised: the rebuild's is."""
    stop.set()
    if not (await asyncio.wait({task}, timeout=BUILDER_STOP_S))[0]:
        log.warning("the rebuild's consumer did not stop in %g s: cancelled", BUILDER_STOP_S)
        task.cancel()
        await asyncio.wait({task}, timeout=BUILDER_STOP_S)
    if task.done() and not task.cancelled() and task.exception() is not None:
        log.warning("the rebuild's consumer had stopped: %s", task.exception())


async def stopped(task: asyncio.Task[None], timeout_s: float) -> None:
    """Wait for the builder to end its batch and stop (under the pointer row, which every
    instance's live batches wait for: no longer than `timeout_s`, else ProjectorError)."""
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError as exc:
        raise ProjectorError(
            f"the rebuild's consumer did not stop within {timeout_s:g} s (views not switched)"
        ) from exc


async def entered(holding: AbstractContextManager[str]) -> str:
    """`holding.__enter__()` off the loop (it may wait for the pointer row). Cancelled meanwhile
    (the projector stopping), its thread still took the row, and nothing let it go: said alive
    every second, it stopped every instance's batches, and the rebuild's own discard (which
    reads the row) waited for it for ever, and so did the stop. Taken after, it is let go."""
    entering = asyncio.ensure_future(asyncio.to_thread(holding.__enter__))
    try:
        return await asyncio.shield(entering)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # (not taken: nothing to let go)
            await entering  # bounded: the row is waited for SWITCH_LOCK_WAIT at most
            await asyncio.to_thread(holding.__exit__, None, None, None)
        raise


async def until_reached(
    builder: ConsumerLoop,
    positions: dict[int, int],
    task: asyncio.Task[None],
    timeout_s: float,
) -> None:
    """Let the builder reach where the live consumers stopped: the records in between are in
    Kafka already. Then the new live consumer re-applies nothing the old feed announced. Short
    of them, no switch: the new generation would announce those records' changes once more, so
    the builder's own failure is raised if it stopped, else ProjectorError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while any(builder.applied.get(p, 0) < o for p, o in positions.items()):
        if task.done():
            task.result()  # raises what stopped it
            raise ProjectorError("the rebuild's consumer stopped before the switch")
        if time.monotonic() > deadline:
            raise ProjectorError(
                f"the rebuild did not reach the live consumers' positions within {timeout_s:g} s"
                " (views not switched; start it again)"
            )
        await asyncio.sleep(0.05)
