"""The Kafka edge: one idempotent, acks=all producer shared by every request.

Concurrent requests share producer batches while each awaits its own acknowledgement; how long a
batch gathers follows the load (`produce_pacing`). Nothing is reported as published until the
broker acknowledged it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any, NamedTuple, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from catalog_contract.kafka_auth import check_credentials
from receiver.errors import PublishFailed
from receiver.key_partitioner import partition_for
from receiver.produce_pacing import AccumulatorPace
from receiver.publisher_stop import Stopping
from receiver.readiness import topics_answered
from receiver.settings import ReceiverSettings
from receiver.time_limits import TimeLimit
from runtime_support.quiet_logs import Outage

log = logging.getLogger(__name__)


class Acknowledged(NamedTuple):
    """Where Kafka put one record (a tuple: built for every record, and a frozen dataclass's
    `__init__` costs several times a tuple's)."""

    topic: str
    partition: int
    offset: int


class Publishes(Protocol):
    """What the receiver needs of Kafka: `Publisher`, or a recording stand-in in tests."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def topics_present(self, *topics: str) -> bool: ...

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]: ...


class Publisher(Stopping):
    def __init__(self, settings: ReceiverSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._pace: AccumulatorPace | None = None
        self._connector: asyncio.Task[None] | None = None
        self._outage = Outage()  # to log losing and regaining Kafka once each
        self._produce_time = TimeLimit(settings.produce_timeout_s)
        self._give_up_at: float | None = None  # (loop time) set once the shutdown begins
        self._give_up_timer: asyncio.Task[None] | None = None
        self._giving_up: asyncio.Task[None] | None = None
        self._shutdown_began = asyncio.Event()  # (readiness probes waiting then end at once)

    def _new_producer(self) -> AIOKafkaProducer:
        s = self._settings
        return AIOKafkaProducer(
            **s.client_options(),
            acks="all",
            enable_idempotence=True,
            linger_ms=s.linger_ms,
            compression_type=s.compression or None,
            partitioner=partition_for,  # Kafka's rule, as aiokafka's, at a fraction of its cost
            # A request to a dead leader is given up (and retried on the new one) well within
            # the produce timeout; idempotent batches are retried without a count limit.
            request_timeout_ms=max(1000, int(s.produce_timeout_s * 1000 / 3)),
            metadata_max_age_ms=s.metadata_max_age_ms,  # (partitions added: used within this)
            client_id="catalog-stream-receiver",
        )

    async def start(self) -> None:
        """Connect in the background: the receiver serves (503) while Kafka is not there yet.
        Refused credentials stop the start-up instead (KafkaAuthError): retrying cannot help."""
        await check_credentials(self._settings)
        self._connector = asyncio.create_task(self._connect_forever())

    async def _connect_forever(self) -> None:
        delay = 0.5
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
            except KafkaError as exc:
                log.warning("kafka not reachable yet: %s; retrying in %.1fs", exc, delay)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            except asyncio.CancelledError:
                # A stop while connecting (a SIGTERM soon after the start): its connection
                # and tasks go too (left, they were closed only by the garbage collector,
                # which says "Unclosed AIOKafkaProducer").
                await producer.stop()
                raise
            s = self._settings
            self._pace = AccumulatorPace(producer, s.linger_from, s.linger_ms, s.linger_from_wait)
            self._producer = producer
            log.info("connected to kafka at %s", self._settings.bootstrap_servers)
            return

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def topics_present(self, *topics: str) -> bool:
        """Readiness (`readiness.topics_answered`): not ready before the producer connected, nor
        once the shutdown began; otherwise within the `ready_wait_s` setting."""
        if self._producer is None:
            return False
        client: Any = self._producer.client
        for topic in topics:
            # Once a write looked a topic up, aiokafka asks for the tracked topics' metadata
            # only: ours must be tracked, or one never written to is never seen (503 for ever).
            client.add_topic(topic)
        wait_s = min(self._settings.ready_wait_s, self._settings.produce_timeout_s)
        return await topics_answered(client, topics, wait_s, self._shutdown_began)

    async def _send_in_order(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        key: bytes | None,
        values: tuple[bytes | None, ...],
        headers: list[tuple[str, bytes]] | None,
    ) -> list[Acknowledged]:
        # Enqueue one after the other (so the broker keeps their order), then await every ack.
        deliveries: list[Awaitable[Any]] = [
            await producer.send(topic, value=value, key=key, headers=headers) for value in values
        ]
        acknowledged = []
        for delivery in deliveries:
            metadata = await delivery
            acknowledged.append(Acknowledged(metadata.topic, metadata.partition, metadata.offset))
        return acknowledged

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]:
        """Send `values` in order under one key; return once Kafka acknowledged all of them."""
        producer, pace = self._producer, self._pace
        if producer is None or pace is None:
            raise PublishFailed("not connected to Kafka yet")
        entered = pace.entering()
        acknowledged: list[Acknowledged] = []
        try:
            with self._produce_time():
                if len(values) == 1:  # the usual postback: one record (a removal has two)
                    delivery = await producer.send(topic, value=values[0], key=key, headers=headers)
                    metadata = await delivery
                    acknowledged = [
                        Acknowledged(metadata.topic, metadata.partition, metadata.offset)
                    ]
                else:
                    acknowledged = await self._send_in_order(producer, topic, key, values, headers)
        except TimeoutError as exc:
            failure = PublishFailed(
                f"Kafka did not acknowledge within {self._settings.produce_timeout_s}s"
            )
            self._writes_failing(failure)
            raise failure from exc
        except KafkaError as exc:
            failure = PublishFailed(f"Kafka did not acknowledge the write: {exc}")
            self._writes_failing(failure)
            raise failure from exc
        finally:
            pace.leaving(entered if acknowledged else None)
        recovered = self._outage.observe(False, time.monotonic())
        if recovered is not None:
            log.warning("kafka acknowledges writes again", extra={"failing_s": recovered.lasted_s})
        return acknowledged

    def _writes_failing(self, failure: PublishFailed) -> None:
        if self._outage.observe(True, time.monotonic()) is not None:
            log.error("kafka writes failing (answering 503 until they succeed): %s", failure)
