"""What an offset holds when a committed-records reader passed over it: a record of an aborted
transaction, a transaction marker, or nothing any more (compaction removed it). A consumer
reading committed records (every one of ours) is never handed any of the three, so it cannot
tell them apart: here the partition's batches at that offset are fetched as stored, once, and
read. A replay starting at such an offset says which it is (it said "removed by compaction" of
all three)."""

from __future__ import annotations

import enum
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.control_record import ABORT_MARKER, COMMIT_MARKER, ControlRecord
from aiokafka.record.memory_records import MemoryRecords

READ_UNCOMMITTED = 0  # Kafka's isolation level code: every stored batch, up to the high watermark
FETCH_BYTES = 1024 * 1024  # the batches from the offset on: the one holding it comes first


class Gap(enum.Enum):
    ABORTED = "a record of an aborted transaction"
    ABORT_MARKER = "a transaction's abort"
    COMMIT_MARKER = "a transaction's commit"
    REMOVED = "removed"  # not stored any more: compaction (or a batch it emptied)
    UNKNOWN = "unknown"  # Kafka did not answer, or an answer this reading does not expect


async def gap_at(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> Gap:
    """What `offset` of `tp` holds, known to hold no committed record (a committed reader went
    past it). Uses the consumer's connections (aiokafka has no public call for raw batches)."""
    client = consumer._client
    node = client.cluster.leader_for_partition(tp)
    if node is None or node < 0:
        return Gap.UNKNOWN
    request = FetchRequest(
        0, 1, FETCH_BYTES, READ_UNCOMMITTED, [(tp.topic, [(tp.partition, offset, FETCH_BYTES)])]
    )
    try:
        response = await client.send(node, request)
    except KafkaError:
        return Gap.UNKNOWN
    for topic, partitions in response.topics:
        for partition, error_code, _highwater, *part_data in partitions:
            if (topic, partition) == (tp.topic, tp.partition) and error_code == 0:
                try:
                    return _read(MemoryRecords(part_data[-1]), offset)
                except Exception:  # batches this reading cannot parse: said as unknown, the
                    return Gap.UNKNOWN  # replay's refusal stands (never a traceback instead)
    return Gap.UNKNOWN


def _read(records: MemoryRecords, offset: int) -> Gap:
    while records.has_next():
        batch: Any = records.next_batch()
        if batch.next_offset <= offset:
            continue  # a batch before it (a fetch answers from the batch holding the offset)
        if batch.base_offset > offset:
            return Gap.REMOVED  # no batch holds it
        if batch.is_control_batch:
            marker = ControlRecord.parse(next(iter(batch)).key)
            if marker == ABORT_MARKER:
                return Gap.ABORT_MARKER
            return Gap.COMMIT_MARKER if marker == COMMIT_MARKER else Gap.UNKNOWN
        for record in batch:
            if record.offset == offset:
                # Stored, yet not handed to a committed reader, which went past it.
                return Gap.ABORTED if batch.is_transactional else Gap.UNKNOWN
        return Gap.REMOVED  # its batch is kept, the record not (compaction)
    return Gap.REMOVED


def gap_text(gap: Gap, where: str, next_where: str, ends_at: bool = False) -> str:
    """The replay's refusal of a start at `where`, whose next committed record is at
    `next_where`; `ends_at`: none comes before `next_where`, the range's end (a partition whose
    last transaction aborted: the start was checked only once a later record came)."""
    committed = "" if gap is Gap.REMOVED else "committed "
    if ends_at:
        then = f"no {committed}record follows it before the range's end, {next_where}"
    else:
        then = f"the next {committed}record there is {next_where}"
    if gap is Gap.REMOVED:
        return f"position {where} was removed by compaction; {then}"
    if gap is Gap.ABORTED:
        what = f"holds {gap.value} (never committed, read by no consumer of ours)"
    elif gap in (Gap.ABORT_MARKER, Gap.COMMIT_MARKER):
        what = f"is a transaction marker ({gap.value}), not a record"
    else:
        what = "holds no committed record (an aborted transaction's, a marker, or removed)"
    return f"position {where} {what}; {then}"
