"""Attack (stop 37, break37c): a restatement replayed over a state of its time whose ids hold
its own, but not first. The cleaner keeps a suffix of each key's records, so a replay may start
after the first of two tied postbacks: there the second's retry wins the tie (nothing before it
to judge it against), and the restatement that follows, of the live state (the second's fields,
the second's id), replaced the fields but kept the replay's ids, newest first: the rebuilt views
served the first postback's fields under the retried one's id (failed before:
`'2d926237-…' == '9a3e50c5-…'`). Now a restatement's id is its state's newest; the ids it found
at that time stay after it. Generated: any suffix of a quiet topic replays the live item.

And a *copy* (every field, the item's time, another event) as a key's last record was taken to
state the item, so nothing was restated and a replay of the compacted topic served the copy's id
and received_at (failed before: `assert [] == [UUID('22e89e…')]`, the restatement not asked
for; the generated replay test in test_attack37c_retries_generated found it with random seeds).
Now a record states the item only if it is the item's newest applied event. No I/O.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.events import ProductChange
from projector.batch import ItemKey, plan_batch
from projector.item_state import ItemState, Known, Position
from projector.records import Incoming
from projector.restatements import snapshot
from tests.factories import change
from tests.unit.test_attack37c_retries_generated import (
    KEY,
    SETTINGS,
    consume,
    consume_until_quiet,
    retried,
    served,
    specs,
    write,
    written,
)


def test_a_restatement_says_its_id_first_over_a_replay_that_applied_a_retry() -> None:
    mug, cup = (
        change(minute=5, price="1.00", name="Mug"),
        change(minute=5, price="1.00", name="Cup"),
    )
    live: dict[ItemKey, Known] = {}
    consume(written([mug, cup, mug]), [], live)  # mug's retry: a repeat
    state = live[KEY]
    assert isinstance(state, ItemState)
    topic = [*written([mug, cup, mug]), Incoming(0, 3, *KEY, snapshot(state), None, Position(0, 2))]
    replayed = plan_batch(topic[1:], {}, lambda _: None).items[KEY]  # cleaned up to cup
    assert isinstance(replayed, ItemState)
    assert (replayed.name, replayed.last_event_id) == ("Cup", f"{cup.event_id} {mug.event_id}")
    assert served(replayed, revision=False) == served(state, revision=False)


@SETTINGS
@given(specs([5, 6, None], ["updated"] * 3 + ["removed"]), st.data())
def test_any_suffix_of_a_quiet_topic_replays_the_live_item(
    events: list[ProductChange], d: st.DataObject
) -> None:
    topic, live, owed = written(retried(d, events)), dict[ItemKey, Known](), list[Incoming]()
    applied = consume(
        topic, d.draw(st.lists(st.integers(0, len(topic))), label="cuts"), live, 0, owed
    )
    consume_until_quiet(topic, live, applied, owed)
    start = d.draw(st.integers(0, len(topic) - 1), label="cleaned up to")
    replayed = plan_batch(topic[start:], {}, lambda _: None).items.get(KEY)
    assert served(replayed, revision=False) == served(live.get(KEY), revision=False)


def test_a_copy_as_the_keys_last_record_is_restated() -> None:
    """A copy states every field, but not the item's event: a replay of it alone served its id
    and its received_at, the live views the applied event's (failed before: no restatement)."""
    price = change(minute=5, price="1.00")
    name = change(minute=5, name="Mug")
    copy = change(minute=5, price="1.00", name="Mug")  # of the same time: changes nothing
    copy = dataclasses.replace(copy, received_at=copy.received_at + timedelta(minutes=1))
    topic, live, owed = written([price, name, copy]), dict[ItemKey, Known](), list[Incoming]()
    consume(topic, [], live, 0, owed)
    assert [r.change.event_id for r in owed if r.change] == [name.event_id]
    write(topic, owed[:1])
    replayed = plan_batch(topic[-1:], {}, lambda _: None).items[KEY]
    assert served(replayed, revision=False) == served(live[KEY], revision=False)
