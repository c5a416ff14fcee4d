"""`catalog-stream dead-letters summary | show | redrive`: the dead-letter topic between the same
bounds as `replay`.

A re-drive judges each stored request with the receiver's current code and configuration
(`receiver.intake.change_from_request`, `CATALOG_RECEIVER_FIELD_MAP`), the function the HTTP path
calls, with the request's original receive time. Events that pass are published as the receiver
publishes them (acks=all, idempotent producer, `catalog_contract.writing`); their ids come from
their content, so an event already on the product topic (a previous re-drive, or the platform's
own retry once the mapping was fixed) is not written again, and one written twice in a race is a
duplicate the projector applies once.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from catalog_contract import dead_letters
from catalog_contract import headers as record_headers
from catalog_contract.dead_letters import DeadLetter
from catalog_contract.errors import ContractError
from catalog_contract.events import ProductChange
from catalog_contract.kafka_connection import kafka_connection
from catalog_contract.positions import position_text
from catalog_contract.writing import product_records
from catalog_stream.dead_letter_report import RedriveReport
from catalog_stream.dead_letter_summary import Summary
from catalog_stream.ranges import RangeError, read_range
from catalog_stream.replay_bounds import Bound
from receiver.deadletter import REDACTED, redacted_data_point
from receiver.errors import ReceiverError
from receiver.intake import change_from_request
from receiver.settings import ReceiverSettings

# A re-drive looks for already-present events from this long before the oldest dead letter it
# re-drives (clocks of the receiver hosts and the broker may differ a little).
_CLOCK_SLACK = timedelta(minutes=10)


@dataclass(frozen=True)
class Topics:
    dead_letters: str
    products: str


async def _letters(
    bootstrap: str, topic: str, start: Bound, stop: Bound, progress: bool | None
) -> AsyncGenerator[DeadLetter | None, None]:
    """Each record in the range, decoded (None for one that is no dead letter), one at a time:
    a range may hold gigabytes of bodies."""
    records = read_range(bootstrap, topic, start, stop, f"reading {topic}", progress)
    async with aclosing(records):
        async for record in records:
            try:
                yield dead_letters.decode(record.value or b"")
            except ContractError as exc:
                where = position_text(record.partition, record.offset)
                print(f"unreadable record {where}: {exc}", file=sys.stderr)
                yield None


async def summarize(
    bootstrap: str, topic: str, start: Bound, stop: Bound, progress: bool | None = None
) -> Summary:
    summary = Summary()
    letters = _letters(bootstrap, topic, start, stop, progress)
    async with aclosing(letters):
        async for letter in letters:
            if letter is None:
                summary.unreadable += 1
            else:
                summary.add(letter)
    return summary.finish()


async def find(
    bootstrap: str, topic: str, request_id: str, start: Bound, stop: Bound,
    progress: bool | None = None,
) -> tuple[DeadLetter | None, list[DeadLetter]]:  # fmt: skip
    """The record with `request_id`, and the repeat tallies that count it."""
    found, tallies = None, []
    letters = _letters(bootstrap, topic, start, stop, progress)
    async with aclosing(letters):
        async for letter in letters:
            if letter is None:
                continue
            if letter.request_id == request_id and letter.repeat_of is None:
                found = letter
            elif letter.repeat_of == request_id:
                tallies.append(letter)
    return found, tallies


def judge(
    letter: DeadLetter, settings: ReceiverSettings
) -> tuple[ProductChange | None, str | None]:
    """The event a stored request makes today, or why it still cannot make one."""
    if len(letter.body) < letter.body_length:
        return None, (
            f"body was cut to {len(letter.body)} of {letter.body_length} bytes when kept; "
            "the platform must send it again"
        )
    if (cut := letter.query_cut) is not None:
        # Its last data point would end in the truncation marker: a wrong event.
        return None, (
            f"query was cut to {cut[0]} of {cut[1]} bytes when kept; "
            "the platform must send it again"
        )
    try:
        change = change_from_request(
            letter.method,
            letter.content_type,
            letter.query,
            letter.body,
            letter.received_at,
            settings.field_map,
            settings.max_future_skew,
        )
    except ReceiverError as exc:
        return None, str(exc)
    if (marked := redacted_data_point(change)) is not None:
        return None, (
            f"{marked} holds {REDACTED!r}, where a secret was taken out when the request was "
            "kept; the platform must send it again"
        )
    return change, None


async def _present(
    bootstrap: str, topic: str, changes: dict[uuid.UUID, ProductChange], progress: bool | None
) -> set[uuid.UUID]:
    """Which of `changes` already have their event (by id, under their key) on the topic."""
    if not changes:
        return set()
    keys = {product_records(c).key for c in changes.values()}
    since = min(c.received_at for c in changes.values()) - _CLOCK_SLACK
    start = Bound("time", time_ms=int(since.timestamp() * 1000))
    present: set[uuid.UUID] = set()
    records = read_range(bootstrap, topic, start, Bound("edge"), f"checking {topic}", progress)
    async with aclosing(records):
        async for record in records:
            if record.key not in keys:
                continue
            for name, value in record.headers or ():
                if name == record_headers.EVENT_ID:
                    try:
                        event_id = uuid.UUID(bytes(value).decode())
                    except ValueError:
                        continue
                    if event_id in changes:
                        present.add(event_id)
    return present


async def _publish(
    bootstrap: str, topic: str, changes: list[ProductChange], compression: str
) -> None:
    producer = AIOKafkaProducer(
        **kafka_connection(bootstrap).client_options(),  # + the KAFKA_* security settings
        acks="all",
        enable_idempotence=True,
        compression_type=compression or None,
        client_id="catalog-stream-redrive",
    )
    try:
        await producer.start()
    except KafkaError as exc:
        raise RangeError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        deliveries = []
        for change in changes:
            records = product_records(change)
            for value in records.values:
                deliveries.append(
                    await producer.send(topic, value, key=records.key, headers=records.headers)
                )
        for delivery in deliveries:
            await delivery  # acks=all: raises if Kafka did not keep it
    except KafkaError as exc:
        raise RangeError(f"publishing to {topic} failed: {exc}; run the re-drive again") from exc
    finally:
        await producer.stop()


async def redrive(
    bootstrap: str,
    topics: Topics,
    start: Bound,
    stop: Bound,
    settings: ReceiverSettings,
    dry_run: bool,
    progress: bool | None = None,
) -> RedriveReport:
    report = RedriveReport(dry_run=dry_run)
    passing: dict[uuid.UUID, ProductChange] = {}
    first_of: dict[uuid.UUID, DeadLetter] = {}
    letters = _letters(bootstrap, topics.dead_letters, start, stop, progress)
    async with aclosing(letters):
        async for letter in letters:
            if letter is None:
                report.unreadable += 1
                continue
            if letter.repeat_of is not None:
                report.tallies += 1
                continue
            report.read += 1
            change, reason = judge(letter, settings)
            if change is None:
                report.failed(letter, reason or "")
            elif change.event_id in passing:  # the same event refused twice: re-drive it once
                report.already_present.add(letter)
            else:
                passing[change.event_id] = change
                first_of[change.event_id] = replace(letter, body=b"", headers=())  # small
    present = await _present(bootstrap, topics.products, passing, progress)
    todo = [change for event_id, change in passing.items() if event_id not in present]
    for event_id in present:
        report.already_present.add(first_of[event_id])
    for change in todo:
        report.published.add(first_of[change.event_id])
    if todo and not dry_run:
        await _publish(bootstrap, topics.products, todo, settings.compression)
    return report
