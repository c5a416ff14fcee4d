"""Records the views cannot apply go to the projector's dead-letter topic, so the projector moves
on without losing them: the source record's own key, value and headers, plus where it was read
and why (catalog_contract.headers). A batch is committed only after its dead letters are kept."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from catalog_contract import headers as record_headers
from projector.errors import DeadLetterUnavailable
from projector.metrics import ProjectorMetrics
from projector.records import Unreadable
from projector.settings import ProjectorSettings
from projector.topic_writer import Outgoing, TopicWriter

log = logging.getLogger(__name__)


class DeadLetterWriter:
    def __init__(
        self, settings: ProjectorSettings, metrics: ProjectorMetrics, writer: TopicWriter
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._writer = writer

    async def write(self, unreadable: Sequence[Unreadable]) -> None:
        if not unreadable:
            return
        source = self._settings.topic
        records = [
            Outgoing(
                self._settings.dead_letter_topic,
                bad.key,
                bad.value,
                record_headers.for_projector_dead_letter(
                    bad.headers, source, bad.partition, bad.offset, bad.reason
                ),
            )
            for bad in unreadable
        ]
        try:
            await self._writer.write(records, self._settings.restate_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise DeadLetterUnavailable(f"could not keep {len(records)} dead letters") from exc
        self._metrics.dead_lettered.inc(len(records))
        for bad in unreadable:
            log.error(
                "record dead-lettered",
                extra={"partition": bad.partition, "offset": bad.offset, "reason": bad.reason},
            )
