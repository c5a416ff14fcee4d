"""Attacks on owed restatements (branch atk2): each test is a defect found on main.

- A live consumer after a switch does not restate records below `keep_from` (its predecessor
  kept them), yet a batch of such records settles their keys' debts: a restatement the
  predecessor failed to write, and owed, is then never written.
"""

from __future__ import annotations

from pathlib import Path

from projector.batch import plan_batch
from projector.consumer import ConsumerLoop
from projector.item_fold import Position
from projector.metrics import ProjectorMetrics
from projector.restatements import Restatement
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.unit.test_projector_restatement_retry import RefusingOne
from tests.unit.test_projector_restatements_owed import A, _batch


class Refusing(RefusingOne):
    """Kafka refuses every restatement (it does not answer in time)."""

    async def write(self, found: list[Restatement], retry: bool = False) -> list[Restatement]:
        return found


async def test_a_batch_below_keep_from_does_not_settle_a_debt_it_did_not_restate(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "views.db")
    store.create()
    # The predecessor (the live consumer before a switch) applied A's partial postback at 0,
    # could not restate it, and owes it (carried over the switch by continue_owed_of).
    first = plan_batch(_batch({A: 0}), {}, lambda key: None)
    first.owe = {A: Position(0, 0)}
    store.write("t", first)
    settings = ProjectorSettings()
    metrics = ProjectorMetrics()
    loop = ConsumerLoop(settings, store, metrics, restater=Refusing(settings, metrics, bad=A))
    loop.keep_from = {0: 5}  # the predecessor kept (and restated, or owed) records below 5
    try:
        # The new live consumer reads A's next partial postback, below keep_from: not restated
        # here (the predecessor's job), so nothing here says A's whole state in the topic.
        second = plan_batch(_batch({A: 1}), {0: 1}, store.load_items([A]).get)
        await loop._keep_and_restate(second)
        store.write("t", second)
        assert store.owed_keys() == {A}  # main: set() - the debt is settled, never written
    finally:
        store.close()
