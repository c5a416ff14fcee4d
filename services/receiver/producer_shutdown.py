"""Giving up, at shutdown, on what the producer holds that Kafka has not acknowledged.

An idempotent producer retries a batch without end while the broker holds the connection open
and does not answer (a stopped or hung broker), and aiokafka's own `stop` flushes first,
unbounded. So once the shutdown budget is spent (`Publisher.stop`), the sender is stopped and
every record left is failed: its postback, if it still waits, is answered 503 (never 200). Such
a record may still land (a request already on the wire), as with any write that timed out; the
client's retry writes it again, and the views count an event once (content ids).

This reaches into aiokafka's producer (pinned in requirements.lock): its sender task and the
produce requests that task awaits, and its accumulator's batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

log = logging.getLogger(__name__)

_PRODUCE_REQUEST = "Sender._send_produce_req"


@dataclass(frozen=True)
class Abandoned:
    records: int  # records Kafka had not acknowledged
    waiting: int  # of them, those whose postback still waited (answered 503 now)


def _batches(accumulator: Any) -> list[Any]:
    """The batches not yet ended (a batch failed by an earlier give-up stays queued)."""
    queued = [batch for batches in accumulator._batches.values() for batch in batches]
    known = set(queued)
    every = queued + [batch for batch in accumulator._pending_batches if batch not in known]
    return [batch for batch in every if not batch.future.done()]


def _produce_requests(sender: Any) -> list[asyncio.Task[Any]]:
    """The sender's produce requests in flight (tasks it awaits, and only it knows)."""
    found = []
    for task in asyncio.all_tasks():
        coroutine: Any = task.get_coro()
        frame = getattr(coroutine, "cr_frame", None)
        if (
            getattr(coroutine, "__qualname__", "") == _PRODUCE_REQUEST
            and frame is not None
            and frame.f_locals.get("self") is sender
        ):
            found.append(task)
    return found


async def _stop_sender(sender: Any) -> None:
    """Cancel the sender and its requests in flight at once: cancelled alone, it awaits each
    request until the request times out (request_timeout_ms: a third of the produce timeout),
    which a stopped broker makes every request do."""
    task = sender.sender_task
    if task is None or task.done():
        return
    task.cancel()
    for request in _produce_requests(sender):
        request.cancel()
    await asyncio.wait({task}, timeout=5)  # (each step is cancellable: never more than a tick)


def _retrieve(futures: Iterable[asyncio.Future[Any]]) -> None:
    """Read each failed future's exception: one nobody awaits (a postback answered 503 at its
    time-out, a batch's drain waiter) made asyncio log 'Future exception was never retrieved'
    when collected, once per batch."""
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()


async def abandon(producer: AIOKafkaProducer) -> Abandoned:
    """Stop sending, and fail every record Kafka has not acknowledged; the count of them."""
    inside: Any = producer
    accumulator = inside._message_accumulator
    if not _batches(accumulator):
        return Abandoned(0, 0)
    await _stop_sender(inside._sender)
    batches = _batches(accumulator)
    futures = [future for batch in batches for future, _ in batch._msg_futures]
    waiting = sum(1 for future in futures if not future.done())
    # (a cancelled one: its postback stopped waiting at its time-out, answered 503)
    unacknowledged = sum(1 for future in futures if not future.done() or future.cancelled())
    for batch in batches:
        if batch.retry_count:
            # Sent before and re-queued: the callback its first sending added removes it from
            # the pending set once it ends (failed here), and raised KeyError when not there.
            accumulator._pending_batches.add(batch)
    accumulator.fail_all(KafkaTimeoutError("not acknowledged before shutdown"))
    _retrieve(futures)
    _retrieve([batch.future for batch in batches] + [batch._drain_waiter for batch in batches])
    return Abandoned(unacknowledged, waiting)
