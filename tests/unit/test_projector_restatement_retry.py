"""The retry of owed restatements against a real view store (SQLite), with a restatement writer
that refuses one item for good, as Kafka would a record over the topic's size limit: the rounds
go round the owed keys, so that one holds back no other debt, and the log says it once."""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

import pytest

from projector.batch import ItemKey, plan_batch
from projector.item_state import Position
from projector.metrics import ProjectorMetrics
from projector.restatement_retry import OwedRestatements
from projector.restatement_writer import RestatementWriter
from projector.restatements import Restatement, restatements
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from projector.topic_writer import TopicWriter
from tests.unit.test_projector_restatements import FULL, state
from tests.unit.test_projector_restatements_owed import A, B, C, _batch


class RefusingOne(RestatementWriter):
    def __init__(self, settings: ProjectorSettings, metrics: ProjectorMetrics, bad: ItemKey):
        super().__init__(settings, metrics, TopicWriter(settings))
        self.bad = bad
        self.written: list[ItemKey] = []

    async def write(self, found: list[Restatement], retry: bool = False) -> list[Restatement]:
        if any(r.key == self.bad for r in found):
            return found
        self.written.extend(r.key for r in found)
        return []


def owing_abc(tmp_path: Path) -> SqliteStore:
    """A view store that applied A, B and C (offsets 0, 1, 2) and owes each a restatement."""
    store = SqliteStore(tmp_path / "views.db")
    store.create()
    plan = plan_batch(_batch({A: 0, B: 1, C: 2}), {}, lambda key: None)
    plan.owe = {A: Position(0, 0), B: Position(0, 1), C: Position(0, 2)}
    store.write("t", plan)
    return store


async def in_thread(work: Any, *args: Any) -> Any:
    """The store's thread, in the test's own: the retry's awaits stay in order."""
    return functools.partial(work, *args)()


async def test_a_restatement_refused_for_good_holds_back_no_other_debt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = owing_abc(tmp_path)
    settings = ProjectorSettings(restate_retry_per_round=1, restate_retry_max_s=4)
    metrics = ProjectorMetrics()
    writer = RefusingOne(settings, metrics, bad=B)
    now = [0.0]
    owed = OwedRestatements(settings, store, metrics, writer, in_thread, clock=lambda: now[0])
    caplog.set_level(logging.INFO, "projector.restatement_retry")
    for _ in range(12):
        await owed.retry_due()
        now[0] += 1.0
    assert sorted(writer.written) == [A, C]  # each once: settled when written
    assert store.owed_keys() == {B}
    [gauge] = metrics.restatements_owed.collect()
    assert gauge.samples[0].value == 1
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(refusals) == 1  # quiet: once when it starts failing, not every round
    store.close()


class Held(RestatementWriter):
    """Kafka answers a retry only when the test says so, and refuses a batch's restatements."""

    def __init__(self, settings: ProjectorSettings, metrics: ProjectorMetrics):
        super().__init__(settings, metrics, TopicWriter(settings))
        self.answer = asyncio.Event()
        self.asked = asyncio.Event()
        self.written: list[ItemKey] = []

    async def write(self, found: list[Restatement], retry: bool = False) -> list[Restatement]:
        if not retry:
            return found
        self.asked.set()
        await self.answer.wait()
        self.written.extend(r.key for r in found)
        return []


async def test_a_batch_owing_a_key_again_during_a_round_keeps_its_debt(tmp_path: Path) -> None:
    """A round runs beside the batches (consumer.py): while it waits for Kafka, a batch judges
    A again and cannot restate it. The round's write of A's older state is acknowledged after:
    A stays owed at the batch's position, in the store and in what the retry knows."""
    store = owing_abc(tmp_path)
    settings = ProjectorSettings(restate_retry_per_round=1)  # A's round is mid-cycle
    metrics = ProjectorMetrics()
    writer = Held(settings, metrics)
    owed = OwedRestatements(settings, store, metrics, writer, in_thread, clock=lambda: 0.0)
    await owed.known()
    retrying = asyncio.create_task(owed.retry_due())
    await writer.asked.wait()  # the round read A's debt and state, and waits for Kafka
    batch = plan_batch(_batch({A: 3}), {0: 3}, lambda key: state(FULL))  # restated
    await owed.write(batch, restatements(batch))
    store.write("t", batch)
    assert batch.owe == {A: Position(0, 3)}
    writer.answer.set()
    await retrying
    assert writer.written == [A]
    assert store.owed_restatements(10) == [(A, Position(0, 3)), (B, Position(0, 1)),
                                           (C, Position(0, 2))]  # fmt: skip
    assert owed.keys == {A, B, C}  # without the batch's debt kept: {B, C}
    store.close()
