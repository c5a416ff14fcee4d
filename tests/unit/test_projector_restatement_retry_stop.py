"""Stopping the owed-restatement retry while a round is under way (restatement_retry.py
`stopped`): the consumer's stop is itself bounded (Runtime.stop_live_consumer cancels it after
60 s), so a cancellation of the stop must not be swallowed by the round's own cancellation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from projector.metrics import ProjectorMetrics
from projector.restatement_retry import OwedRestatements
from projector.restatement_writer import RestatementWriter
from projector.restatements import Restatement
from projector.settings import ProjectorSettings
from projector.topic_writer import TopicWriter
from tests.unit.test_projector_restatement_retry import in_thread, owing_abc


class SlowToCancel(RestatementWriter):
    """Kafka never answers a retry, and a cancelled write takes a moment to end (a producer
    cleaning up), as aiokafka's may."""

    def __init__(self, settings: ProjectorSettings, metrics: ProjectorMetrics):
        super().__init__(settings, metrics, TopicWriter(settings))
        self.asked = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.ended = asyncio.Event()

    async def write(self, found: list[Restatement], retry: bool = False) -> list[Restatement]:
        self.asked.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            try:
                await asyncio.sleep(0.2)
            finally:
                self.ended.set()
            raise
        return []


async def test_a_stop_cancelled_while_the_round_ends_is_cancelled(tmp_path: Path) -> None:
    store = owing_abc(tmp_path)
    settings = ProjectorSettings()
    metrics = ProjectorMetrics()
    writer = SlowToCancel(settings, metrics)
    owed = OwedRestatements(settings, store, metrics, writer, in_thread, clock=lambda: 0.0)
    owed.start_if_due()
    await asyncio.wait_for(writer.asked.wait(), 10)
    stopping = asyncio.create_task(owed.stopped())
    await asyncio.wait_for(writer.cancelled.wait(), 10)  # the round is ending
    stopping.cancel()  # the stop's own bound ran out
    with pytest.raises(asyncio.CancelledError):
        await stopping  # before: returned normally, the cancellation swallowed
    await asyncio.wait_for(writer.ended.wait(), 10)
    assert len(store.owed_keys()) == 3  # nothing settled: Kafka acknowledged nothing
    store.close()
