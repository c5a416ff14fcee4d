"""The consumer's pipelined planning (the next batch planned on top of the previous batch's
unwritten plan) against the plain sequential fold (each batch planned after the one before is
written): for any records and any split into batches, the store ends the same, row for row,
counts, feed and offsets."""

from __future__ import annotations

import itertools
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract.events import Availability, ChangeType
from catalog_contract.writing import product_records
from projector.consumer import ConsumerLoop
from tests.factories import change
from tests.projector_harness import Message, consumer_loop
from tests.support import dump

_EVENT = st.builds(
    lambda catalog, item, minute, price, stock, kind: change(
        item, catalog, minute=minute, price=price, stock=stock, kind=kind
    ),
    st.sampled_from(["42", "7"]),
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 6),
    st.sampled_from([None, "1", "2"]),
    st.sampled_from([None, Availability.IN_STOCK, Availability.OUT_OF_STOCK]),
    st.sampled_from([ChangeType.UPDATED, ChangeType.UPDATED, ChangeType.REMOVED]),
)


def _messages(events: list[Any], partitions: list[int]) -> list[Message]:
    next_offset: dict[int, int] = {}
    found = []
    for event, partition in zip(events, partitions, strict=True):
        records = product_records(event)
        for value in records.values:
            offset = next_offset.get(partition, 0)
            next_offset[partition] = offset + 1
            found.append(Message(partition, offset, records.key, value, list(records.headers)))
    return found


def _batches(messages: list[Message], cuts: list[int]) -> list[list[Message]]:
    edges = sorted({0, len(messages), *(c % (len(messages) + 1) for c in cuts)})
    return [messages[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _sequential(loop: ConsumerLoop, batches: list[list[Message]]) -> None:
    applied: dict[int, int] = {}
    for batch in batches:
        plan = loop._plan(batch, dict(applied))
        loop.store.write("t", plan)
        applied.update(plan.next_offsets)


def _pipelined(loop: ConsumerLoop, batches: list[list[Message]], replay: bool) -> None:
    """As the loop runs: plan i+1 on plan i before plan i is written, then write plan i.
    `replay`: every batch is read twice (a seek back after a refused batch re-reads them)."""
    applied: dict[int, int] = {}
    plan = None
    for batch in [b for b in batches for _ in range(2 if replay else 1)]:
        if plan is None:
            plan = loop._plan(batch, dict(applied))
            continue
        following = loop._plan(batch, {**applied, **plan.next_offsets}, after=plan)
        if plan.next_offsets:
            loop.store.write("t", plan)
        applied.update(plan.next_offsets)
        plan = following
    if plan is not None and plan.next_offsets:
        loop.store.write("t", plan)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(_EVENT, min_size=1, max_size=14),
    partition_picks=st.lists(st.integers(0, 1), min_size=14, max_size=14),
    cuts=st.lists(st.integers(0, 40), max_size=6),
    replay=st.booleans(),
)
def test_pipelined_plans_store_what_the_sequential_fold_stores(
    events: list[Any], partition_picks: list[int], cuts: list[int], replay: bool
) -> None:
    messages = _messages(events, partition_picks[: len(events)])
    batches = _batches(messages, cuts)
    with TemporaryDirectory() as tmp:
        expected_loop = consumer_loop(Path(tmp) / "sequential.db")
        _sequential(expected_loop, batches)
        actual_loop = consumer_loop(Path(tmp) / "pipelined.db")
        _pipelined(actual_loop, batches, replay)
        expected, actual = dump(expected_loop.store), dump(actual_loop.store)
        expected_loop.store.close()
        actual_loop.store.close()
    assert actual == expected
