"""When `ConsumerLoop.kept` moves: it says below which offsets this consumer kept the records
(dead-lettered, restated, or owed the restatement), and a rebuild's switch or a follower starts
the next live consumer from it as `keep_from` (Runtime), which keeps nothing below again. So a
batch counts as kept once nothing of what it owes Kafka can be lost: a batch without debts as
soon as its dead letters and restatements are written (even if the store then refuses it as
moved: the follower must not write them again); a batch with a debt only once the batch, which
holds the debt, is written; a batch the store refuses, record by record as each is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from projector.batch import BatchPlan
from projector.consumer import ConsumerLoop
from projector.errors import StoreRefused
from projector.metrics import ProjectorMetrics
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.unit.test_projector_consumer import _message
from tests.unit.test_projector_restatements_owed import A
from tests.unit.test_projector_restatements_owed_attack import FULL_A, PARTIAL_A, Refusing

OTHER = change("b", "42", minute=0, price="3.00")


class NoFetches:
    """What `_done` asks of the aiokafka consumer, with nothing assigned (no broker)."""

    def assignment(self) -> set[Any]:
        return set()


class RefusingOffset(SqliteStore):
    """A real SQLite store that refuses (as a value it cannot hold) the record at offset 1."""

    def write(self, topic: str, plan: BatchPlan) -> None:
        if any(r.offset == 1 for r in plan.last_records.values()):
            raise StoreRefused("view store refused the data: a test's value")
        super().write(topic, plan)


def _loop(store: SqliteStore) -> ConsumerLoop:
    store.create()
    settings, metrics = ProjectorSettings(), ProjectorMetrics()
    return ConsumerLoop(settings, store, metrics, restater=Refusing(settings, metrics, bad=A))


async def test_a_batch_without_debts_is_kept_once_its_keeping_is_written(tmp_path: Path) -> None:
    loop = _loop(SqliteStore(tmp_path / "views.db"))
    plan = loop._plan([_message(0, FULL_A), _message(1, OTHER)], {})
    await loop._keep_and_restate(plan)
    assert loop.kept == {0: 2}  # before the store write: refused as moved, still kept
    loop.store.write("t", plan)
    await loop._done(NoFetches(), plan)
    assert loop.kept == {0: 2}
    loop.store.close()


async def test_a_batch_with_a_debt_is_kept_only_once_written(tmp_path: Path) -> None:
    loop = _loop(SqliteStore(tmp_path / "views.db"))
    first = loop._plan([_message(0, FULL_A)], {})
    await loop._keep_and_restate(first)
    loop.store.write("t", first)
    await loop._done(NoFetches(), first)
    second = loop._plan([_message(1, PARTIAL_A)], {0: 1})
    await loop._keep_and_restate(second)  # Kafka refuses A's restatement: owed with the batch
    assert second.owe
    assert loop.kept == {0: 1}  # not yet: refused as moved, the debt would be in no store
    loop.store.write("t", second)
    await loop._done(NoFetches(), second)
    assert loop.kept == {0: 2}
    assert loop.store.owed_keys() == {A}
    loop.store.close()


async def test_a_batch_the_store_refuses_is_kept_record_by_record(tmp_path: Path) -> None:
    loop = _loop(RefusingOffset(tmp_path / "views.db"))
    topic = loop.settings.topic
    loop.store.write(topic, loop._plan([_message(0, FULL_A)], {}))
    loop.applied = {0: 1}
    loop._positioned.add(0)  # assigned and read from the store, as any batch's partitions
    messages = [_message(1, OTHER), _message(2, PARTIAL_A)]  # A's restatement: refused, owed
    plan = loop._plan(messages, {0: 1})
    await loop._keep_and_restate(plan)
    assert loop.kept == {}  # it owes A: kept only once written, and it is not
    with pytest.raises(StoreRefused):
        loop.store.write(topic, plan)
    await loop._apply_one_by_one(NoFetches(), messages)
    assert loop.kept == {0: 3}  # 1 dead-lettered (no writer here), 2 written with its debt
    assert loop.store.positions(topic) == {0: 3}
    assert loop.store.owed_keys() == {A}
    loop.store.close()
