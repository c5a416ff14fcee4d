"""A rebuild's builder holds its dead letters until the switch (held_dead_letters.py): those a
live consumer then passes are let go, those at or past where the live consumers stopped are
written once, and past the limit they are written at once. Without a broker: what would be
written to Kafka is recorded."""

from __future__ import annotations

import logging

import pytest

from projector.held_dead_letters import HeldDeadLetters
from projector.records import Unreadable
from tests.unit.test_projector_keeping_moved import Recorded


def _bad(partition: int, offset: int) -> Unreadable:
    return Unreadable(partition, offset, "not Avro", b"k", b"\x00", ())


def _where(written: list[Unreadable]) -> list[tuple[int, int]]:
    return [(u.partition, u.offset) for u in written]


async def test_held_letters_are_written_only_at_or_past_where_the_live_consumers_stopped() -> None:
    writer = Recorded()
    held = HeldDeadLetters(writer)
    await held.hold([_bad(0, 3), _bad(1, 5)])
    await held.hold([_bad(0, 9), _bad(2, 0)])
    assert writer.written == []  # nothing before the switch
    held.passed({0: 4})  # the live consumer read past 0/3
    assert _where(list(held.held)) == [(1, 5), (0, 9), (2, 0)]
    await held.due_past({0: 9, 1: 6})  # 1/5 kept by the live consumer; 2 not read (0)
    assert _where(writer.written) == [(0, 9), (2, 0)]
    assert held.held == ()
    await held.due_past({})  # let go of all: never written twice
    assert _where(writer.written) == [(0, 9), (2, 0)]


async def test_past_the_limit_they_are_written_at_once(caplog: pytest.LogCaptureFixture) -> None:
    writer = Recorded()
    held = HeldDeadLetters(writer, limit=2)
    await held.hold([_bad(0, 0), _bad(0, 1)])
    assert writer.written == []
    with caplog.at_level(logging.WARNING, "projector.held_dead_letters"):
        await held.hold([_bad(0, 2)])
    assert _where(writer.written) == [(0, 0), (0, 1), (0, 2)]
    assert held.held == ()
    assert [r.getMessage() for r in caplog.records] == [
        "the rebuild is far ahead of the live consumer: its dead letters written now"
    ]


async def test_past_the_byte_limit_they_are_written_at_once() -> None:
    """Each is held whole: large records are bounded by their bytes, not only their count."""
    writer = Recorded()
    held = HeldDeadLetters(writer, limit_bytes=3 * 2**20)
    big = b"\x00" * 2**20  # a record of 1 MiB, the topic's default largest
    await held.hold([Unreadable(0, 0, "not Avro", b"k", big, ())])
    await held.hold([Unreadable(0, 1, "not Avro", b"k", big, ())])
    assert writer.written == []
    await held.hold([Unreadable(0, 2, "not Avro", b"k", big, ())])  # 3 MiB and 3 bytes
    assert _where(writer.written) == [(0, 0), (0, 1), (0, 2)]
    assert held.held == ()


async def test_a_batch_read_again_holds_its_records_once() -> None:
    writer = Recorded()
    held = HeldDeadLetters(writer)
    await held.hold([_bad(0, 3), _bad(1, 5)])
    await held.hold([_bad(0, 3), _bad(1, 5)])  # its write failed: read again, held again
    await held.due_past({})
    assert _where(writer.written) == [(0, 3), (1, 5)]
