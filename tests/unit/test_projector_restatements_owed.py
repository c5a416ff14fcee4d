"""Owed restatements: which a batch owes and settles (pure), and how the view store keeps them
with the batch (SQLite and PostgreSQL)."""

from __future__ import annotations

from projector.batch import plan_batch
from projector.generations import Generations
from projector.item_state import Position, Removed
from projector.records import Incoming
from projector.restatements import Restatement, restatements, snapshot
from projector.restatements_owed import restatement_of, settle_and_owe
from projector.store import ViewStore
from tests.factories import change
from tests.unit.test_projector_restatements import FULL, state

A, B, C = ("42", "a"), ("42", "b"), ("42", "c")


def _batch(offsets: dict[tuple[str, str], int]) -> list[Incoming]:
    """A partial postback of each item, at these offsets."""
    return [
        Incoming(0, o, *k, change(k[1], k[0], minute=5, price="8.00"), None)
        for k, o in offsets.items()
    ]


def test_a_failed_restatement_is_owed_at_its_keys_last_record() -> None:
    known = state(FULL)
    plan = plan_batch(_batch({A: 4, B: 5}) + _batch({A: 7}), {}, lambda key: known)
    found = restatements(plan)
    assert [r.key for r in found] == [A, B]
    settle_and_owe(plan, [r for r in found if r.key == A], owed=set())
    assert plan.owe == {A: Position(0, 7)}
    assert plan.settle == []


def test_a_batch_judging_an_owed_key_again_settles_it_unless_it_owes_it_again() -> None:
    plan = plan_batch(_batch({A: 1, B: 2}), {}, lambda key: state(FULL))
    [_, for_b] = restatements(plan)
    settle_and_owe(plan, [for_b], owed={A, B, C})
    assert plan.settle == [A]  # C has no record here: still owed; B owed afresh
    assert plan.owe == {B: Position(0, 2)}


def test_nothing_failed_nothing_owed() -> None:
    plan = plan_batch(_batch({A: 1}), {}, lambda key: state(FULL))
    settle_and_owe(plan, [], owed=set())
    assert (plan.owe, plan.settle) == ({}, [])


def test_a_retry_restates_the_current_state_at_its_current_position() -> None:
    now = state(FULL, change(minute=9, price="7.00"))  # changed since it was owed
    assert restatement_of(A, now) == Restatement(A, snapshot(now), Position(0, 1))
    gone = Removed(*A, None, 2, 30)
    assert restatement_of(A, gone) == Restatement(A, gone, Position(2, 30))
    assert restatement_of(A, None) is None


def test_the_store_keeps_debts_with_the_batch_and_settles_only_what_was_read(
    store: ViewStore,
) -> None:
    store.create()
    first = plan_batch(_batch({A: 0, B: 1}), {}, lambda key: None)
    first.owe = {A: Position(0, 0), B: Position(0, 1)}
    store.write("t", first)
    assert store.owed_keys() == {A, B}
    assert store.owed_restatements(1) == [(A, Position(0, 0))]  # bounded, in key order
    second = plan_batch(_batch({A: 2, B: 3}), {0: 2}, store.load_items([A, B]).get)
    second.settle, second.owe = [A], {B: Position(0, 3)}
    store.write("t", second)
    assert store.owed_restatements(10) == [(B, Position(0, 3))]
    store.settle_owed([(B, Position(0, 1))])  # a retry of the older debt: B is owed again since
    assert store.owed_keys() == {B}
    store.settle_owed([(B, Position(0, 3))])
    assert store.owed_keys() == set()


def test_a_rebuilt_generation_owes_what_the_replaced_one_owed(generations: Generations) -> None:
    old, fresh = generations.open_active(), generations.open_new()
    try:
        old.create()
        fresh.create()
        owing = plan_batch(_batch({A: 0, B: 1}), {}, lambda key: None)
        owing.owe = {A: Position(0, 0), B: Position(0, 1)}
        old.write("t", owing)
        rebuilt = plan_batch(_batch({B: 1, C: 2}), {}, lambda key: None)
        rebuilt.owe = {B: Position(0, 9), C: Position(0, 2)}  # judged again by the builder
        fresh.write("t", rebuilt)
        fresh.continue_owed_of(old)
        assert fresh.owed_restatements(10) == [
            (A, Position(0, 0)),
            (B, Position(0, 9)),
            (C, Position(0, 2)),
        ]
    finally:
        old.close()
        fresh.close()
