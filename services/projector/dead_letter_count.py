"""How many refused postbacks the dead-letter topic holds, for the status page: asked of the
broker at most every `max_age_s`, so page views cost the broker nothing more."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from catalog_contract.consumer_stop import stop_consumer
from catalog_contract.kafka_connection import KafkaConnection

log = logging.getLogger(__name__)
CLIENT_ID = "catalog-stream-status"


class DeadLetterCount:
    def __init__(self, kafka: KafkaConnection, topic: str, max_age_s: float = 30.0) -> None:
        self.kafka = kafka
        self.topic = topic
        self.max_age_s = max_age_s
        self._value: int | None = None
        self._asked_at = -float("inf")
        self._lock = asyncio.Lock()

    async def current(self, timeout_s: float = 3.0) -> int | None:
        """Records on the topic (end minus beginning offsets); None if the broker did not say."""
        async with self._lock:
            if time.monotonic() - self._asked_at >= self.max_age_s:
                self._asked_at = time.monotonic()
                try:
                    self._value = await asyncio.wait_for(self._ask(), timeout_s)
                except (KafkaError, TimeoutError) as exc:
                    log.info("could not count dead letters: %s", exc)
                    self._value = None
            return self._value

    async def _ask(self) -> int | None:
        options = self.kafka.client_options()
        admin = AIOKafkaAdminClient(**options, client_id=CLIENT_ID)
        consumer = AIOKafkaConsumer(
            **self.kafka.consumer_options(), group_id=None, client_id=CLIENT_ID
        )
        try:
            await admin.start()
            await consumer.start()
            if self.topic not in await admin.list_topics():
                return None
            detail = (await admin.describe_topics([self.topic]))[0]["partitions"]
            partitions = [TopicPartition(self.topic, p["partition"]) for p in detail]
            begin = await consumer.beginning_offsets(partitions)
            end = await consumer.end_offsets(partitions)
            return sum(int(end[tp]) - int(begin[tp]) for tp in partitions)
        finally:
            await stop_consumer(consumer)
            await admin.close()
