"""Attack (stop 37): a retried postback landing after a *different* postback of the same
`DateLastUpdated` (or of none). README: "a retried postback carries the same id and the
projector applies it once". The fold recognised a repeat only of the item's last applied event
(`last_event_id`); a tie in source time goes to the later offset, so the retry of A, written
after B, won the tie and was applied a second time: the item showed A's price again, although
the platform sent B after A (B, acknowledged, undone), and its revision counted A twice.
Failed before the fix: `assert (Decimal('3.0000'), 3) == (Decimal('4.0000'), 2)`, both cases.

Now an item remembers the ids of the events it applied at its current source time (newest
first, at most TIED_IDS_KEPT, in its `last_event_id` column; the read API answers the newest).
Ids come from the content, so a genuine change back to A's values within the same
DateLastUpdated is taken for A's retry: the platform's retries make that the likelier reading.
A copy (an event of the same time that changes no field) is remembered too: its retry after a
newer change of that time was applied (found by the property below). No I/O.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract.events import ProductChange
from projector.batch import plan_batch
from projector.item_fold import apply
from projector.item_state import TIED_IDS_KEPT, ItemState, Known, Position, Verdict
from projector.records import Incoming
from projector.restatements import snapshot
from projector.rows import item_json, to_row
from tests.examples import examples
from tests.factories import change

KEY = ("42", "sku-1")


def folded(events: list[ProductChange]) -> ItemState:
    records = [Incoming(0, offset, *KEY, event) for offset, event in enumerate(events)]
    state = plan_batch(records, {}, lambda _: None).items[KEY]
    assert isinstance(state, ItemState)
    return state


@pytest.mark.parametrize("minute", [5, None], ids=["same time", "no time"])
def test_a_retry_after_another_postback_of_the_same_time_is_applied_once(
    minute: int | None,
) -> None:
    first = change(minute=minute, price="3.00", name="Mug")
    second = change(minute=minute, price="4.00", name="Mug")
    assert first.event_id != second.event_id
    # A's write landed late: the platform got a 503, sent B, then retried A (same event id).
    state = folded([first, second, first])
    assert (state.current_price, state.revision) == (Decimal("4.0000"), 2)
    assert state.last_event_id == f"{second.event_id} {first.event_id}"


def test_a_newer_time_forgets_the_ids_of_the_older_one() -> None:
    first, second = change(minute=5, price="3.00"), change(minute=5, price="4.00")
    newer = change(minute=6, price="5.00")
    state = folded([first, second, newer])
    assert state.last_event_id == str(newer.event_id)
    # (a retry of either is stale now, as before: older than the item)
    again = folded([first, second, newer, first])
    assert (again.current_price, again.revision, again.last_event_id) == (
        Decimal("5.0000"),
        3,
        str(newer.event_id),
    )


def test_at_most_the_newest_ids_of_one_time_are_kept() -> None:
    events = [change(minute=5, price=f"{n}.00") for n in range(1, TIED_IDS_KEPT + 3)]
    state = folded(events)
    kept = [str(e.event_id) for e in reversed(events)][:TIED_IDS_KEPT]
    assert state.last_event_id.split() == kept
    oldest_kept, forgotten = events[-TIED_IDS_KEPT], events[-TIED_IDS_KEPT - 1]
    at = Position(0, len(events))
    assert apply(state, oldest_kept, at).verdict is Verdict.DUPLICATE
    # Past the bound a retry is a tie again, as before the fix (the later offset wins).
    assert apply(state, forgotten, at).verdict is Verdict.APPLIED


def test_its_own_restatement_keeps_the_ids_of_its_time() -> None:
    first, second = change(minute=5, price="3.00"), change(minute=5, price="4.00")
    state = folded([first, second])
    says = snapshot(state)
    assert says.event_id == second.event_id  # the newest: what a restatement carries
    restated = apply(state, says, Position(0, 2), Position(0, 1))
    assert restated.verdict is Verdict.DUPLICATE  # it changes nothing of the live item
    assert restated.state == state
    after: Known = restated.state
    assert apply(after, first, Position(0, 3)).verdict is Verdict.DUPLICATE


def test_a_restatement_of_another_time_says_its_own_id_only() -> None:
    first, second = change(minute=5, price="3.00"), change(minute=5, price="4.00")
    state = folded([first, second])
    other = change(minute=4, price="9.00")
    restated = apply(state, other, Position(0, 3), Position(0, 1))
    assert restated.verdict is Verdict.APPLIED
    assert isinstance(restated.state, ItemState)
    assert restated.state.last_event_id == str(other.event_id)


def test_a_restatement_of_an_id_not_applied_at_that_time_says_its_own_id_only() -> None:
    first, second = change(minute=5, price="3.00"), change(minute=5, price="4.00")
    state = folded([first, second])
    stranger = change(minute=5, price="7.00")
    restated = apply(state, stranger, Position(0, 3), Position(0, 1))
    assert isinstance(restated.state, ItemState)
    assert restated.state.last_event_id == str(stranger.event_id)


def test_the_read_api_answers_the_newest_id() -> None:
    first, second = change(minute=5, price="3.00"), change(minute=5, price="4.00")
    answer = item_json(to_row(folded([first, second])))
    assert answer["last_event_id"] == str(second.event_id)
    assert uuid.UUID(answer["last_event_id"]) == second.event_id


def test_a_copys_retry_after_a_newer_change_of_its_time_is_a_repeat() -> None:
    full = change(minute=7, price="2.00", name="Mug")
    copy = change(minute=7, price="2.00")  # no name: nothing to change, a copy
    newer = change(minute=7, price="1.00", name="Mug")
    state = folded([full, copy, newer, copy])
    assert (state.current_price, state.revision) == (Decimal("1.0000"), 2)
    # (the copy's id after the applied one's: test_attack37c_retries_generated)
    assert state.last_event_id.split() == [str(e.event_id) for e in (newer, full, copy)]


_SPECS = st.tuples(
    st.sampled_from([5, 6, 7]),
    st.sampled_from(["1.00", "2.00", "3.00", None]),
    st.sampled_from(["Mug", "Cup", None]),
)


def _served(events: list[ProductChange]) -> tuple[object, ...]:
    state = folded(events)
    return (state.current_price, state.name, state.revision, state.source_updated_at,
            state.last_event_id.split()[0])  # fmt: skip


@settings(max_examples=examples(1_000, 50), deadline=None, derandomize=True)
@given(st.lists(_SPECS, min_size=1, max_size=TIED_IDS_KEPT, unique=True), st.data())
def test_retries_landing_late_change_nothing_served(
    specs: list[tuple[int, str | None, str | None]], data: st.DataObject
) -> None:
    """Timed postbacks (a few times, so ties are common), each retried up to four times, each
    retry written anywhere after its first write: the item is served as without the retries."""
    events = list(
        {e.event_id: e for e in (change(minute=m, price=p, name=n) for m, p, n in specs)}.values()
    )
    topic = list(events)
    for _ in range(data.draw(st.integers(0, 4))):
        retried = events[data.draw(st.integers(0, len(events) - 1))]
        first = topic.index(retried)
        topic.insert(data.draw(st.integers(first + 1, len(topic))), retried)
    assert _served(topic) == _served(events)
