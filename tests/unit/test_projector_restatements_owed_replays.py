"""Generated: whatever batches the live projector folds, whichever of its restatement writes
fail (owed, then retried at the item's current state, maybe failing again), once Kafka takes
them, a replay of any suffix of the key's records compaction may keep gives the live views.
No I/O: restatements_owed.py's planning against the replay property of
test_projector_restatements_replays."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract.events import ProductChange
from projector.batch import plan_batch
from projector.item_state import Known
from projector.records import Incoming
from projector.restatements import Restatement, restatements
from projector.restatements_owed import restatement_of, settle_and_owe
from tests.examples import examples
from tests.unit.test_projector_restatements import KEY, record
from tests.unit.test_projector_restatements_replays import _told, _visible, events

# A batch's events, whether its restatement write is taken, whether a retry runs before it,
# whether Kafka takes that retry, and whether the retry's record lands after the batch's events
# (the producer wrote them while the retry was being written: it says a state they supersede).
FLAG = st.booleans()
STEPS = st.lists(
    st.tuples(st.lists(events(), min_size=1, max_size=3), FLAG, FLAG, FLAG, FLAG),
    min_size=1,
    max_size=5,
)


def _restated(log: list[Incoming], r: Restatement) -> None:
    if isinstance(r.says, ProductChange):
        log.append(Incoming(0, len(log), *KEY, r.says, None, r.restates))
    else:
        log.append(Incoming(0, len(log), *KEY, None, r.says.source_updated_at, r.restates))


def _live(
    steps: list[tuple[list[ProductChange], bool, bool, bool, bool]],
) -> tuple[Known, list[Incoming]]:
    log: list[Incoming] = []
    known: Known = None
    owed = False
    consumed = 0

    def consume(taken: bool) -> None:
        nonlocal known, owed, consumed
        while consumed < len(log):
            plan = plan_batch(log[consumed:], {}, lambda key, k=known: k)  # type: ignore[misc]
            consumed = len(log)
            known = plan.items.get(KEY, known)
            found = restatements(plan)
            settle_and_owe(plan, [] if taken else found, {KEY} if owed else set())
            owed = (owed and KEY not in plan.settle) or KEY in plan.owe
            if taken:
                for r in found:
                    _restated(log, r)

    for group, taken, retry, retry_taken, late in steps:
        paid = restatement_of(KEY, known) if retry and owed and retry_taken else None
        if paid is not None and not late:
            _restated(log, paid)  # the retry round: the item's current state, then settled
        for event in group:
            log.append(record(len(log), event))
            if event.change_type.name == "REMOVED":  # as the receiver writes a removal
                log.append(Incoming(0, len(log), *KEY, None, event.source_updated_at))
        if paid is not None:
            owed = False
            if late:
                _restated(log, paid)
        consume(taken)
    for _ in range(4):  # Kafka takes them again: retries until nothing is owed
        if owed and (r := restatement_of(KEY, known)) is not None:
            _restated(log, r)
        owed = False
        consume(True)
    assert not owed
    return known, log


@settings(max_examples=examples(800, under_mutation=100), derandomize=True, database=None)
@given(STEPS)
def test_every_suffix_compaction_may_keep_replays_to_the_live_views_after_owed_ones_paid(
    steps: list[tuple[list[ProductChange], bool, bool, bool, bool]],
) -> None:
    live, log = _live(steps)
    for keep_from in range(len(log)):
        replayed = plan_batch(log[keep_from:], {}, lambda key: None).items.get(KEY)
        assert _visible(replayed) == _visible(live), (
            keep_from,
            _told([tuple(g) for g, *_ in steps]),
        )
