"""Where replayed records go: JSON Lines, an Avro object container file, or another topic."""

from __future__ import annotations

import asyncio
import json
import sys
from abc import ABC, abstractmethod
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import fastavro
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastavro.write import Writer

from catalog_contract import headers, schemas
from catalog_contract.kafka_connection import KafkaConnection, kafka_connection
from catalog_contract.reader import Tombstone
from catalog_stream.errors import CatalogStreamError
from catalog_stream.ranges import topic_partitions


class SinkError(CatalogStreamError):
    """The sink cannot take the replay's records; the message says why."""


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _restates(record: Any) -> str | None:
    for name, value in record.headers or ():
        if name == headers.RESTATES:
            return bytes(value).decode("utf-8", "replace")
    return None


def row(record: Any, found: Any) -> dict[str, Any]:
    """One replayed record as plain data: position, key, the event (None for tombstones), and
    for a projector's restatement the position it supersedes (None for the platform's events)."""
    event = None if isinstance(found, Tombstone) else found.to_record()
    return {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp,
        "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
        "tombstone": isinstance(found, Tombstone),
        "restates": _restates(record),
        "event": event,
    }


def avro_file_schema() -> dict[str, Any]:
    """Each row of an Avro replay file: the position, the key, and the event (null: tombstone)."""
    return {
        "type": "record",
        "name": "ReplayedRecord",
        "namespace": "catalog_stream.replay",
        "fields": [
            {"name": "partition", "type": "int"},
            {"name": "offset", "type": "long"},
            {"name": "timestamp_ms", "type": "long"},
            {"name": "key", "type": "string"},
            {"name": "tombstone", "type": "boolean"},
            {"name": "restates", "type": ["null", "string"], "default": None},
            {"name": "event", "type": ["null", schemas.current().definition], "default": None},
        ],
    }


class Sink(ABC):
    async def open(self, partitions: list[int]) -> None:  # noqa: B027 - most need no check
        """Before any record is read: refuse (CatalogStreamError) if the sink cannot take
        records of these source partitions."""

    @abstractmethod
    async def write(self, record: Any, found: Any) -> None: ...

    async def close(self) -> None:  # noqa: B027 - most sinks have nothing to close
        pass


class JsonLinesSink(Sink):
    def __init__(self, path: Path | None) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8") if path else sys.stdout

    async def write(self, record: Any, found: Any) -> None:
        self._file.write(json.dumps(row(record, found), default=_json_default) + "\n")

    async def close(self) -> None:
        if self._file is not sys.stdout:
            self._file.close()
        else:
            self._file.flush()


class AvroFileSink(Sink):
    """An Avro object container file (readable by Spark, DuckDB, pandas via fastavro ...)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self._writer = Writer(
            self._file, fastavro.parse_schema(avro_file_schema()), codec="deflate"
        )

    async def write(self, record: Any, found: Any) -> None:
        self._writer.write(row(record, found))

    async def close(self) -> None:
        self._writer.flush()
        self._file.close()


class TopicSink(Sink):
    """Re-publish the raw records (same key, value bytes, headers and partition number), so
    each partition keeps its order; the target needs at least as many partitions. Every
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
                headers=list(record.headers or ()),
            )  # fmt: skip
        except KafkaError as exc:
            raise SinkError(
                f"cannot write to --target-topic {self._topic!r}: {exc}", retryable=exc.retriable
            ) from exc
        self._sent += 1
        delivery.add_done_callback(self._delivered)

    async def close(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.flush()  # every delivery settled
            finally:
                await self._producer.stop()
        self._refuse_after_failure()
