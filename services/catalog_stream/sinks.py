"""Where replayed records go: JSON Lines, an Avro object container file, or another topic
(topic_sink.py)."""

from __future__ import annotations

import json
import sys
from abc import ABC, abstractmethod
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import fastavro
from fastavro.write import Writer

from catalog_contract import headers, schemas
from catalog_contract.reader import Tombstone
from catalog_stream.errors import CatalogStreamError


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
