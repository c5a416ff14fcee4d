"""The projector's one Kafka producer (idempotent, acks=all), started on first use: restatements
and dead letters go through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from catalog_contract.headers import Headers
from projector.settings import ProjectorSettings


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


class TopicWriter:
    def __init__(self, settings: ProjectorSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        # Restatements, owed ones (their own task) and dead letters may write at once: one
        # producer is started, not one each (the others leaked).
        self._starting = asyncio.Lock()

    async def _connected(self) -> AIOKafkaProducer:
        async with self._starting:
            return await self._started()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                **self._settings.client_options(),
                acks="all",
                enable_idempotence=True,
                client_id="catalog-stream-projector-writer",
            )
            try:
                await producer.start()
            except BaseException:  # refused, or the write's time ran out (a broker that hangs)
                with contextlib.suppress(KafkaError):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def write(self, records: Sequence[Outgoing], timeout_s: float) -> None:
        """All acknowledged, in order, or KafkaError / TimeoutError."""
        async with asyncio.timeout(timeout_s):
            producer = await self._connected()
            deliveries = [
                await producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))
                for r in records
            ]
            await asyncio.gather(*deliveries)

    async def stop(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(KafkaError):
                await self._producer.stop()
            self._producer = None
