"""A batch that keeps something in Kafka (dead letters, restatements) first asks the store
whether its generation is still the active one (PostgresStore: the pointer, FOR SHARE), so a
batch refused as moved has kept nothing: another instance's rebuild keeps those records, and
kept here too they were in Kafka twice. A batch with nothing to keep asks nothing (no round
trip). Without a broker: what would be written to Kafka is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from projector.consumer import ConsumerLoop
from projector.dead_letter_writer import DeadLetterWriter
from projector.errors import GenerationMoved
from projector.metrics import ProjectorMetrics
from projector.records import Unreadable
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.projector_harness import Message
from tests.unit.test_projector_consumer import _message
from tests.unit.test_projector_restatement_retry import RefusingOne
from tests.unit.test_projector_restatements_owed_attack import FULL_A, PARTIAL_A

OTHER = change("b", "42", minute=0, price="3.00")


class Moved(SqliteStore):
    """A real SQLite store whose generation another instance has switched away from."""

    checks = 0

    def check_active(self) -> None:
        self.checks += 1
        raise GenerationMoved("the active generation is now views_2, not views")


class Recorded(DeadLetterWriter):
    def __init__(self) -> None:
        self.written: list[Unreadable] = []

    async def write(self, unreadable: Sequence[Unreadable]) -> None:
        self.written.extend(unreadable)


def _loop(tmp_path: Path) -> tuple[ConsumerLoop, Moved, Recorded, RefusingOne]:
    store = Moved(tmp_path / "views.db")
    store.create()
    settings, metrics = ProjectorSettings(), ProjectorMetrics()
    restater = RefusingOne(settings, metrics, bad=("none", "none"))  # Kafka takes them all
    dead = Recorded()
    loop = ConsumerLoop(settings, store, metrics, restater=restater, dead_letters=dead)
    return loop, store, dead, restater


async def test_a_batch_with_a_dead_letter_refused_as_moved_keeps_nothing(tmp_path: Path) -> None:
    loop, store, dead, _ = _loop(tmp_path)
    broken = Message(0, 1, b"c1|x", b"\x00 not Avro", [])
    plan = loop._plan([_message(0, OTHER), broken], {})
    assert plan.unreadable
    with pytest.raises(GenerationMoved):
        await loop._keep_and_restate(plan)
    assert (dead.written, loop.kept, store.checks) == ([], {}, 1)
    store.close()


async def test_a_batch_with_a_restatement_refused_as_moved_keeps_nothing(tmp_path: Path) -> None:
    loop, store, _, restater = _loop(tmp_path)
    SqliteStore.write(store, loop.settings.topic, loop._plan([_message(0, FULL_A)], {}))
    plan = loop._plan([_message(1, PARTIAL_A)], {0: 1})  # the views keep the name: restated
    with pytest.raises(GenerationMoved):
        await loop._keep_and_restate(plan)
    assert (restater.written, loop.kept, store.checks) == ([], {}, 1)
    store.close()


async def test_a_batch_with_nothing_to_keep_asks_nothing(tmp_path: Path) -> None:
    loop, store, dead, _ = _loop(tmp_path)
    plan = loop._plan([_message(0, OTHER)], {})
    await loop._keep_and_restate(plan)
    assert (dead.written, loop.kept, store.checks) == ([], {0: 1}, 0)
    store.close()
