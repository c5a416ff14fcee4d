"""The publisher's graceful stop: the shutdown budget counted from the signal, the writes still
unacknowledged when it is spent given up (producer_shutdown.abandon), so every postback is
answered before the server gives up waiting for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from receiver.producer_shutdown import abandon
from receiver.settings import ReceiverSettings

log = logging.getLogger(__name__)

STOP_RESERVE_S = 2.0


class Stopping:
    """The stop half of `Publisher` (publisher.py), which sets these fields up."""

    _settings: ReceiverSettings
    _producer: AIOKafkaProducer | None
    _connector: asyncio.Task[None] | None
    _give_up_at: float | None  # (loop time) set once the shutdown begins
    _give_up_timer: asyncio.Task[None] | None
    _giving_up: asyncio.Task[None] | None
    _shutdown_began: asyncio.Event  # (readiness probes waiting then end at once)

    def stopping(self) -> None:
        """The shutdown began (the server's SIGTERM; else `stop`): from now on, the shutdown
        budget counts. Writes not acknowledged when it is spent but for its reserve are failed
        then, so every postback is answered (503) before the server gives up waiting for them."""
        if self._give_up_at is not None:
            return
        self._shutdown_began.set()
        loop = asyncio.get_running_loop()
        budget_s = self._settings.shutdown_timeout_s
        self._give_up_at = loop.time() + budget_s - stop_reserve_s(budget_s)
        self._give_up_timer = asyncio.create_task(self._give_up_when_due())

    async def _give_up_when_due(self) -> None:
        assert self._give_up_at is not None
        await asyncio.sleep(self._give_up_at - asyncio.get_running_loop().time())
        await self._give_up()

    async def _give_up(self) -> None:
        """Fail what the producer holds unacknowledged (the timer and `stop` share a give-up in
        progress; `stop` gives up again on what came after the timer's: a postback whose body
        arrived late, which aiokafka's `stop` would flush without end)."""
        if self._giving_up is None or self._giving_up.done():
            self._giving_up = asyncio.create_task(self._abandon())
        await asyncio.shield(self._giving_up)

    async def _abandon(self) -> None:
        if self._producer is None:
            return
        left = await abandon(self._producer)
        if left.records:
            log.warning(
                "shutdown: %d records Kafka did not acknowledge were given up; %d postbacks "
                "still waited for theirs (answered 503), the others had been answered 503 at "
                "their produce timeout",
                left.records,
                left.waiting,
                extra={"unacknowledged": left.records, "waiting": left.waiting},
            )

    async def stop(self) -> None:
        """Flush what is in flight within the shutdown budget, fail what is left, then
        disconnect (graceful shutdown)."""
        self.stopping()
        assert self._give_up_at is not None
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._producer is not None:
            # No record waits longer than the produce timeout for a postback: past it, each
            # was answered 503 already.
            left_s = self._give_up_at - asyncio.get_running_loop().time()
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(
                    self._producer.flush(), max(0.0, min(self._settings.produce_timeout_s, left_s))
                )
            await self._give_up()  # (nothing, when everything was acknowledged)
            await self._producer.stop()
            self._producer = None
        if self._give_up_timer is not None:
            self._give_up_timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._give_up_timer


def stop_reserve_s(budget_s: float) -> float:
    """Of the shutdown budget, what is kept for after the writes are given up: answering their
    postbacks, closing the producer and the server, the process's exit (a fraction when the
    budget is short)."""
    return min(STOP_RESERVE_S, budget_s / 4)
