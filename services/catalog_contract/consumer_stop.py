"""Stopping an aiokafka consumer so that nothing of it is left running, whatever the broker does.

aiokafka 0.14's `AIOKafkaConsumer.stop` closes the fetcher before the client, and the fetcher
awaits the fetch tasks it cancelled: one sleeping out its retry against an unreachable broker
re-raises that CancelledError. So with the broker gone `stop` raised CancelledError though
nobody had cancelled the caller, and never closed the client: the client's metadata task ran on
for the life of the process (one per consumer stopped that way: a live consumer, a first
catch-up's part, a replay), and the task that stopped looked cancelled to whoever waited on it.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`, then its client closed in any case. A CancelledError is raised only if
    the caller was cancelled meanwhile; another error of the stop is raised once the client is
    closed."""
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if task is not None and task.cancelling() > before:
            raise  # the caller's own (the client is closed all the same)
    finally:
        await _client_closed(consumer)


async def _client_closed(consumer: AIOKafkaConsumer) -> None:
    # Closing twice is harmless: the metadata task is cancelled once, closed connections stay so.
    with contextlib.suppress(Exception):
        await consumer._client.close()
