"""Attack (stop 39, break39): a batch cut between a removal and its tombstone (restatements).

A batch whose last record of an item is a REMOVED event owed no restatement: its tombstone,
which the receiver writes right after it, is judged in its own batch. But that batch does not
see what the first one ignored, so the restatement owed for an ignored record followed by others
(a replay of a suffix compaction keeps starts there, with nothing to judge it against) was
never written. Topic: a timed postback, an untimed one (keeping its time), the removal of that
time and its tombstone, then the untimed postback's and the removal's retries (their 200s lost)
and the tombstone. Live, the retries are repeats: removed. Cut before the last tombstone, a
replay of the suffix starting at offset 1, 2 or 3 served the item (the untimed retry re-added
it; the removal's retry and its tombstone tie the re-add: repeats). Failed before the fix: the
suffixes [1, 2, 3] replayed to an ItemState. Now a removal last in its batch after an ignored
record is restated (the marker, as a tombstone), as its tombstone would have been.
"""

from __future__ import annotations

import pytest

from catalog_contract.events import ChangeType
from projector.batch import ItemKey, plan_batch
from projector.item_state import Known, Removed
from projector.records import Incoming
from tests.factories import change
from tests.unit.test_attack37c_retries_generated import KEY, consume, consume_until_quiet, written


@pytest.mark.parametrize("cuts", [[], [6]], ids=["one batch", "cut before the tombstone"])
def test_every_suffix_of_a_retried_removal_replays_to_the_live_views(cuts: list[int]) -> None:
    timed, untimed = change(minute=5, price="1.00"), change(minute=None, price="1.00", name="Mug")
    removal = change(minute=5, kind=ChangeType.REMOVED)
    topic = written([timed, untimed, removal, untimed, removal])
    store: dict[ItemKey, Known] = {}
    owed: list[Incoming] = []
    applied = consume(topic, cuts, store, 0, owed)
    consume_until_quiet(topic, store, applied, owed)
    assert isinstance(store[KEY], Removed)
    replays = [plan_batch(topic[start:], {}, lambda _: None).items[KEY] for start in range(7)]
    assert [n for n, replayed in enumerate(replays) if not isinstance(replayed, Removed)] == []
