"""The Kafka edge of restatements: write them to the product topic under the item's key.

A failed write is logged and counted, never fatal: the views stay exact either way. The
restatements it could not write are owed, kept with the batch and written again until written
(restatements_owed.py, restatement_retry.py).
"""

from __future__ import annotations

import logging

from aiokafka.errors import KafkaError

from catalog_contract.events import ProductChange
from catalog_contract.writing import restatement_records
from projector.metrics import ProjectorMetrics
from projector.restatements import Restatement
from projector.settings import ProjectorSettings
from projector.topic_writer import Outgoing, TopicWriter

log = logging.getLogger(__name__)


class RestatementWriter:
    def __init__(
        self, settings: ProjectorSettings, metrics: ProjectorMetrics, writer: TopicWriter
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._writer = writer

    async def write(self, found: list[Restatement], retry: bool = False) -> list[Restatement]:
        """Write them all (acks=all); returns the ones not written (all of them, or none).
        `retry`: owed ones written again, whose failure the retry logs itself (quietly)."""
        if not found:
            return []
        records: list[Outgoing] = []
        for r in found:
            said = restatement_records(
                *r.key,
                r.says if isinstance(r.says, ProductChange) else None,
                None if isinstance(r.says, ProductChange) else r.says.source_updated_at,
                (r.restates.partition, r.restates.offset),
            )
            records.extend(Outgoing(self._settings.topic, said.key, v, said.headers)
                           for v in said.values)  # fmt: skip
        try:
            await self._writer.write(records, self._settings.restate_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            self._metrics.restatements_failed.inc(len(found))
            if not retry:
                log.error("could not write %d restatements, owed: %s", len(found), exc)
            return found
        for r in found:
            kind = "snapshot" if isinstance(r.says, ProductChange) else "tombstone"
            self._metrics.restatements.labels(kind).inc()
        return []
