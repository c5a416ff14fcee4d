"""Attacks on owed restatements (branch atk2): each test is a defect found on main.

- With the default round size, one restatement Kafka refuses for good (a record over the topic's
  size limit) shares its round with every other debt, so none of them is ever written.
- A live consumer after a switch does not restate records below `keep_from` (its predecessor
  kept them), yet a batch of such records settles their keys' debts: a restatement the
  predecessor failed to write, and owed, is then never written.
"""

from __future__ import annotations

from pathlib import Path

from projector.batch import ItemKey, plan_batch
from projector.consumer import ConsumerLoop
from projector.item_state import Position
from projector.metrics import ProjectorMetrics
from projector.records import Incoming
from projector.restatement_retry import OwedRestatements
from projector.restatements import Restatement, restatements
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.unit.test_projector_restatement_retry import RefusingOne, in_thread, owing_abc
from tests.unit.test_projector_restatements import state
from tests.unit.test_projector_restatements_owed import A, B, C, _batch

FULL_A = change("a", "42", minute=0, price="10.00", name="Mug")
PARTIAL_A = change("a", "42", minute=5, price="8.00")  # the views keep the name: restated


async def test_with_the_default_round_size_one_refused_for_good_holds_back_no_other_debt(
    tmp_path: Path,
) -> None:
    store = owing_abc(tmp_path)
    settings = ProjectorSettings()  # restate_retry_per_round: its default
    metrics = ProjectorMetrics()
    writer = RefusingOne(settings, metrics, bad=B)
    now = [0.0]
    owed = OwedRestatements(settings, store, metrics, writer, in_thread, clock=lambda: now[0])
    for _ in range(40):  # far more than a whole backoff's worth of rounds
        await owed.retry_due()
        now[0] += settings.restate_retry_max_s
    assert sorted(writer.written) == [A, C]  # main: [] - B's round is every debt's round
    assert store.owed_keys() == {B}
    store.close()


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


class Writing(RefusingOne):
    """Kafka takes every restatement."""

    async def write(self, found: list[Restatement], retry: bool = False) -> list[Restatement]:
        self.written.extend(r.key for r in found)
        return []


async def test_a_debt_another_instance_left_on_the_shared_store_is_written(
    tmp_path: Path,
) -> None:
    """Two instances on one store (PostgreSQL in production; one SQLite file here): B owes a
    restatement and stops for good (scaled down); A, which owes nothing itself, takes B's
    partitions over. The product stays quiet: only A's retry can ever write B's debt."""
    store = SqliteStore(tmp_path / "views.db")
    store.create()
    settings = ProjectorSettings()
    metrics = ProjectorMetrics()
    writer = Writing(settings, metrics, bad=C)
    now = [0.0]
    a = OwedRestatements(settings, store, metrics, writer, in_thread, clock=lambda: now[0])
    await a.retry_due()  # A starts: nothing owed
    b_batch = plan_batch(_batch({A: 0}), {}, lambda key: None)
    b_batch.owe = {A: Position(0, 0)}  # B's batch: its restatement of A failed
    store.write("t", b_batch)
    for _ in range(40):
        await a.retry_due()
        now[0] += settings.restate_retry_max_s
    assert writer.written == [A]  # main: [] - A never looks at the store again
    assert store.owed_keys() == set()
    store.close()


class Counting(SqliteStore):
    reads_of_every_owed_key = 0

    def owed_keys(self) -> set[ItemKey]:
        self.reads_of_every_owed_key += 1
        return super().owed_keys()


async def test_thousands_owed_are_not_all_read_again_after_each_round(tmp_path: Path) -> None:
    """Rounds are bounded, so the work of a round must be too: reading every owed key after
    each round made paying N debts cost N^2 / round size (100 000 owed: 25 s of rounds, each
    holding the consumer back longer as N grows; 50 000: 6.7 s)."""
    store = Counting(tmp_path / "views.db")
    store.create()
    owed_keys = {("42", f"i{n:03d}"): n for n in range(40)}
    plan = plan_batch(_batch(owed_keys), {}, lambda key: None)
    plan.owe = {k: Position(0, o) for k, o in owed_keys.items()}
    store.write("t", plan)
    settings = ProjectorSettings(restate_retry_per_round=4)
    metrics = ProjectorMetrics()
    writer = Writing(settings, metrics, bad=C)
    owed = OwedRestatements(settings, store, metrics, writer, in_thread, clock=lambda: 0.0)
    for _ in range(11):  # ten rounds of four, and the one that finds the cycle's end
        await owed.retry_due()
    assert sorted(writer.written) == sorted(owed_keys)
    assert store.owed_keys() == set()
    assert store.reads_of_every_owed_key <= 4  # main: 12, one after every round
    store.close()


async def test_a_debt_of_a_batch_the_moved_generation_refused_is_not_lost(
    tmp_path: Path,
) -> None:
    """Another instance switched the views while this one wrote a batch whose restatement
    failed: the old generation refuses the batch (GenerationMoved), so its debt is in no store.
    The follower's live consumer reads that batch again in the new generation, and must owe (or
    restate) it there, not skip it as kept: `kept` is its keep_from (Runtime._follow)."""
    assert restatements(plan_batch([Incoming(0, 1, *A, PARTIAL_A, None)], {0: 1},
                                   lambda key: state(FULL_A)))  # fmt: skip
    old = SqliteStore(tmp_path / "old.db")
    old.create()
    fresh = SqliteStore(tmp_path / "fresh.db")
    fresh.create()
    first = plan_batch([Incoming(0, 0, *A, FULL_A, None)], {}, lambda key: None)
    old.write("t", first)
    fresh.write("t", first)  # the rebuild reached where the old generation stood
    settings = ProjectorSettings()
    metrics = ProjectorMetrics()
    moved = ConsumerLoop(settings, old, metrics, restater=Refusing(settings, metrics, bad=A))
    second = plan_batch([Incoming(0, 1, *A, PARTIAL_A, None)], {0: 1}, old.load_items([A]).get)
    await moved._keep_and_restate(second)
    # ... and old.write("t", second) raises GenerationMoved: nothing of it is written.
    follower = ConsumerLoop(settings, fresh, metrics, restater=Refusing(settings, metrics, bad=A))
    follower.keep_from = dict(moved.kept)
    try:
        again = plan_batch([Incoming(0, 1, *A, PARTIAL_A, None)], {0: 1}, fresh.load_items([A]).get)
        await follower._keep_and_restate(again)
        fresh.write("t", again)
        assert fresh.owed_keys() == {A}  # main: set() - skipped as kept, owed nowhere
    finally:
        old.close()
        fresh.close()
