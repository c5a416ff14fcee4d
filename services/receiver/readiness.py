"""The receiver's readiness (`/readyz`): the broker answers a metadata request that lists our
topics, within a bound of its own, and never once the shutdown began.

Bounded, because a hung broker (a stopped process: its connections stay open, nothing answers)
held a probe until the metadata request's own time-out (a third of the produce timeout, 10 s by
default), past any probe's time-out, and past the shutdown's give-up point: uvicorn's backstop
then cancelled it, answered 500 and logged the traceback.
"""

from __future__ import annotations

import asyncio
from typing import Any

# How long a probe waits for the broker's metadata, by default (CATALOG_RECEIVER_READY_WAIT_S):
# below Kubernetes' default probe time-out (1 s), so a probe of a hung broker is answered 503
# rather than timed out by its caller. A healthy broker answers in milliseconds, but not always
# under load (1 probe in 1,120 answered 503 at the receiver's top rate): an operator whose probes
# allow longer raises it. Probes share one request (force_metadata_update).
READY_WAIT_S = 0.8
# At most: aiokafka's metadata request gives up by then anyway (a third of the produce timeout,
# 10 s by default), and a probe waiting longer outlives any usual probe time-out.
READY_WAIT_MAX_S = 10.0
# At least: a healthy broker's metadata round trip takes milliseconds, tens under load; a wait
# below that (1 ms answered 23 of 50 probes, 0.1 ms none) keeps a healthy receiver out of the
# load balancer for ever, said only by its 503s: refused at start instead.
READY_WAIT_MIN_S = 0.1


async def topics_answered(
    client: Any, topics: tuple[str, ...], wait_s: float, shutdown: asyncio.Event
) -> bool:
    """True if aiokafka's `client` gets the cluster's metadata within `wait_s`, listing every one
    of `topics`; False at once when `shutdown` is set (a stopping instance must leave the load
    balancer, and a probe waiting then is answered before the server gives up on it)."""
    if shutdown.is_set():
        return False
    # (a shielded future: cancelling our wait leaves the update going for the other probes)
    metadata = asyncio.ensure_future(client.force_metadata_update())
    stopping = asyncio.ensure_future(shutdown.wait())
    try:
        await asyncio.wait(
            (metadata, stopping), timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        metadata.cancel()  # (nothing, once done)
        stopping.cancel()
    if shutdown.is_set() or metadata.cancelled():
        return False
    # Not True: no broker answered; the metadata from before still lists the topics, which
    # said "ready" with the broker killed.
    if metadata.exception() is not None or metadata.result() is not True:
        return False
    known = client.cluster.topics()
    return all(topic in known for topic in topics)
