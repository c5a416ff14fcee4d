"""Where `replay --to topic` copies records: another topic, partition for partition."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from catalog_contract import headers
from catalog_contract.errors import DecodeError
from catalog_contract.kafka_connection import KafkaConnection, kafka_connection
from catalog_stream.copy_positions import CopiedPositions
from catalog_stream.ranges import offset_spans, topic_partitions
from catalog_stream.sinks import Sink, SinkError


class TopicSink(Sink):
    """Re-publish the raw records (same key, value bytes, headers and partition number), so
    each partition keeps its order; the target needs at least as many partitions. A projector's
    restatement is re-published naming the target's position of what it restates
    (copy_positions), or not at all where it is superseded on the target already; so the target
    must hold no record where the copy writes, nor get another producer's meanwhile. Every
    delivery is checked: a record the broker refused fails the replay (SinkError), it is never
    counted as copied, and nothing is sent after it (later records of its key would land
    without it)."""

    def __init__(self, kafka: KafkaConnection | str, topic: str) -> None:
        self._connection = kafka_connection(kafka)
        self._topic = topic
        self._producer: AIOKafkaProducer | None = None  # made inside the event loop
        self._sent = 0
        self._failed = 0
        self._failure: BaseException | None = None  # the first refusal
        self._positions = CopiedPositions({})

    async def open(self, partitions: list[int]) -> None:
        """Asked of the cluster's metadata, which answers at once: the producer would wait its
        request timeout (40 s) for a missing topic, then fail with a traceback; and with too few
        partitions it fails an assertion on the first record past them, part of the range
        already copied. A missing topic is not created (a broker that auto-creates topics would
        give it its own defaults, not the contract's)."""
        target = await topic_partitions(self._connection, self._topic, "--target-topic")
        needed = max(partitions, default=-1) + 1
        if len(target) < needed:
            raise SinkError(
                f"--target-topic {self._topic!r} has {len(target)} partition(s); the replay "
                f"keeps each record's partition, so it needs {needed}"
            )
        spans = await offset_spans(self._connection, self._topic, target)
        held = [(p, spans[p]) for p in partitions if spans[p][0] < spans[p][1]]
        if held:  # (a copy that stopped too: its restatements may be copied again over it)
            partition, (start, end) = held[0]
            raise SinkError(
                f"--target-topic {self._topic!r} partition {partition} holds records (offsets "
                f"{start}..{end - 1}): a copied restatement names a position of what the copy "
                "wrote, which would take in records it did not write and could undo a newer "
                "change they hold; copy into an empty topic"
            )
        self._positions = CopiedPositions({p: end for p, (_, end) in spans.items()})

    def _delivered(self, delivery: asyncio.Future[Any]) -> None:
        failure = asyncio.CancelledError() if delivery.cancelled() else delivery.exception()
        if failure is not None:
            self._failed += 1
            self._failure = self._failure or failure

    def _refuse_after_failure(self) -> None:
        if self._failure is not None:
            raise SinkError(
                f"{self._failed} of {self._sent} record(s) were not written to --target-topic "
                f"{self._topic!r}: {self._failure!s} (a replay stops at the first record refused)",
                retryable=bool(getattr(self._failure, "retriable", False)),
            ) from self._failure

    async def write(self, record: Any, found: Any) -> None:
        self._refuse_after_failure()
        sent_headers = self._restated_here(record)
        if sent_headers is None:
            return  # a restatement superseded on the target as on the source: nothing to say
        try:
            if self._producer is None:
                self._producer = AIOKafkaProducer(
                    **self._connection.client_options(),
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=20,
                )
                await self._producer.start()
            delivery = await self._producer.send(
                self._topic, record.value, key=record.key, partition=record.partition,
                headers=sent_headers,
            )  # fmt: skip
        except KafkaError as exc:
            raise SinkError(
                f"cannot write to --target-topic {self._topic!r}: {exc}", retryable=exc.retriable
            ) from exc
        self._sent += 1
        index = self._positions.sent(record.partition, record.offset, record.key)
        delivery.add_done_callback(self._delivered)
        delivery.add_done_callback(partial(self._landed, record.partition, index))

    def _restated_here(self, record: Any) -> list[tuple[str, bytes]] | None:
        """The headers to send; a restatement's name the target position it restates. None: a
        restatement not to copy (superseded on the target already)."""
        sent = list(record.headers or ())
        try:
            restated = headers.restated(sent)
        except DecodeError:  # copied as it is: the target's readers refuse it as the source's
            return sent
        if restated is None:
            return sent
        partition, offset = restated
        if self._positions.foreign_before(partition, offset):
            raise SinkError(
                f"another producer wrote to --target-topic {self._topic!r} partition "
                f"{partition} during the copy: a copied restatement would name a position "
                "taking in its records, and could undo a newer change they hold"
            )
        there = self._positions.restated(partition, offset, record.key)
        if there is None:
            return None
        kept = [(name, value) for name, value in sent if name != headers.RESTATES]
        return [*kept, headers.restates(partition, there)]

    def _landed(self, partition: int, index: int, delivery: asyncio.Future[Any]) -> None:
        if not delivery.cancelled() and delivery.exception() is None:
            self._positions.delivered(partition, index, delivery.result().offset)

    async def close(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.flush()  # every delivery settled
            finally:
                await self._producer.stop()
        self._refuse_after_failure()
        if misnamed := self._positions.misnamed():
            raise SinkError(
                f"another producer wrote to --target-topic {self._topic!r} partition(s) "
                f"{', '.join(map(str, misnamed))} during the copy: a restatement copied there "
                "names a position its record did not land at; copy into an empty topic again"
            )
