"""Generated: whatever batches the live projector folds (and restates after), a replay of any
suffix of the key's records that compaction may keep gives the views the live projector holds.
No I/O."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract.events import Availability, ChangeType, ProductChange
from projector.batch import plan_batch
from projector.item_state import ItemState, Known, Position, Verdict
from projector.records import Incoming
from projector.restatements import restatements, snapshot
from tests.examples import examples
from tests.factories import change
from tests.unit.test_projector_restatements import KEY, live_log, record

NAMES = st.sampled_from(["Mug", "Cup", None])
PRICES = st.sampled_from(["3.00", "4.00", None])
STOCK = st.sampled_from([Availability.IN_STOCK, None])
KINDS = st.sampled_from([ChangeType.UPDATED, ChangeType.UPDATED, ChangeType.REMOVED])


@st.composite
def events(draw: st.DrawFn) -> ProductChange:
    return change(minute=draw(st.one_of(st.none(), st.integers(0, 3))), price=draw(PRICES),
                  stock=draw(STOCK), name=draw(NAMES), kind=draw(KINDS))  # fmt: skip


def _visible(known: Known) -> tuple[object, ...] | None:
    if not isinstance(known, ItemState):
        return None
    return (known.name, known.current_price, known.stock_availability, known.source_updated_at)


def _told(batches: list[ProductChange | tuple[ProductChange, ...]]) -> list[object]:
    """The batches, short, for a failure's message."""

    def one(e: ProductChange) -> str:
        at = e.source_updated_at
        minute = at and at.minute
        return (
            f"{e.change_type.name[:3]} m{minute} {e.current_price} {e.name} {e.stock_availability}"
        )

    return [tuple(map(one, b)) if isinstance(b, tuple) else one(b) for b in batches]


BATCHES = st.lists(
    st.one_of(events(), st.lists(events(), min_size=2, max_size=4).map(tuple)),
    min_size=1,
    max_size=4,
)


# The mutation gate runs this once for each mutant of batch and restatements: fewer there.
@settings(max_examples=examples(1500, under_mutation=150), derandomize=True, database=None)
@given(BATCHES)
def test_every_suffix_compaction_may_keep_replays_to_the_live_views(
    batches: list[ProductChange | tuple[ProductChange, ...]],
) -> None:
    live, log = live_log(batches)
    for keep_from in range(len(log)):
        replayed = plan_batch(log[keep_from:], {}, lambda key: None).items.get(KEY)
        assert _visible(replayed) == _visible(live), (keep_from, _told(batches))


def _known_after(*events: ProductChange) -> Known:
    return plan_batch([record(n, e) for n, e in enumerate(events)], {}, lambda key: None).items[KEY]


def test_a_record_after_a_stale_retry_in_the_batch_is_restated() -> None:
    # Live: the partial postback of minute 1 (no price), the retry of minute 0 with a price judged
    # stale, the partial postback again (a lost 200). A replay starting at the retry applies it,
    # and the repeat keeps its price: only a restatement after them says "no price".
    partial = change(minute=1, name="Mug")
    retry = change(minute=0, price="3.00", name="Mug")
    plan = plan_batch([record(0, partial), record(1, retry), record(2, partial)], {},
                      lambda key: None)  # fmt: skip
    live = plan.items[KEY]
    assert isinstance(live, ItemState)
    assert live.current_price is None
    [owed] = restatements(plan)  # the old rule owed none: the repeat's fields equal the state's
    assert owed.restates == Position(0, 2)


def test_an_accepted_restatement_before_a_record_that_says_everything_owes_nothing() -> None:
    full = change(minute=1, price="3.00", stock=Availability.IN_STOCK, name="Mug")
    known = _known_after(full)
    assert isinstance(known, ItemState)
    newer = change(minute=2, price="3.00", stock=Availability.IN_STOCK, name="Mug")
    said = Incoming(0, 1, *KEY, snapshot(known), None, Position(0, 0))
    plan = plan_batch([said, record(2, newer)], {0: 1}, lambda key: known)
    assert plan.verdicts[Verdict.DUPLICATE] == 1  # the restatement, accepted
    assert restatements(plan) == []


def test_a_repeat_of_the_items_last_event_alone_owes_nothing() -> None:
    full = change(minute=1, price="3.00", stock=Availability.IN_STOCK, name="Mug")
    known = _known_after(full)
    plan = plan_batch([record(1, full)], {0: 1}, lambda key: known)
    assert plan.verdicts[Verdict.DUPLICATE] == 1
    assert restatements(plan) == []
