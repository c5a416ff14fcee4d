"""A new item's untimed postback, alone in its batch, needs no restatement: a replay applies it
over nothing, as the live views did. Anything more (a stored state or marker, another record of
the item in the batch) keeps the restatement. No I/O."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract.events import Availability, ChangeType, ProductChange
from projector.batch import plan_batch
from projector.item_state import ItemState, Known, Position, Removed
from projector.records import Incoming
from projector.restatements import restatements
from tests.factories import BASE_TIME, change

KEY = ("42", "sku-1")
UNTIMED = change(minute=None, price="3.00")  # the freshness bench's postback: new, untimed


def record(offset: int, event: ProductChange | None, removed_minute: int | None = None) -> Incoming:
    at = None if removed_minute is None else BASE_TIME + timedelta(minutes=removed_minute)
    return Incoming(0, offset, *KEY, event, at)


def replayed(records: list[Incoming]) -> Known:
    return plan_batch(records, {}, lambda key: None).items.get(KEY)


def test_a_new_items_untimed_postback_alone_in_its_batch_is_not_restated() -> None:
    plan = plan_batch([record(0, UNTIMED)], {}, lambda key: None)
    assert restatements(plan) == []  # the old rule restated every untimed postback
    assert replayed([record(0, UNTIMED)]) == plan.items[KEY]


def test_other_items_in_the_batch_do_not_matter() -> None:
    other = change("sku-2", minute=None, price="4.00")
    records = [Incoming(0, 0, "42", "sku-2", other, None), record(1, UNTIMED)]
    assert restatements(plan_batch(records, {}, lambda key: None)) == []


def test_an_untimed_postback_over_a_stored_state_is_still_restated() -> None:
    stored = plan_batch([record(0, change(minute=1, name="Mug"))], {}, lambda key: None)
    plan = plan_batch([record(1, UNTIMED)], {}, lambda key: stored.items[KEY])
    [again] = restatements(plan)
    assert again.key == KEY


def test_an_untimed_postback_over_a_stored_removal_is_still_restated() -> None:
    marker = Removed(*KEY, BASE_TIME + timedelta(minutes=5), 0, 3)
    plan = plan_batch([record(4, UNTIMED)], {}, lambda key: marker)
    assert [r.key for r in restatements(plan)] == [KEY]


def test_a_stale_retry_in_the_same_batch_keeps_the_restatement() -> None:
    # A removal of a never-seen item (marker at minute 5), a retry of minute 0 judged stale
    # against it, then the untimed re-add: live, the item keeps the removal's time (minute 5).
    # A replay that starts at the retry (the cleaner keeps a suffix of the key's records)
    # applies it and the re-add inherits minute 0: only the restatement keeps them equal.
    retry = change(minute=0, name="Cup")
    removal = change(minute=5, kind=ChangeType.REMOVED)
    batch = [record(0, removal), record(1, None, removed_minute=5), record(2, retry),
             record(3, UNTIMED)]  # fmt: skip
    plan = plan_batch(batch, {}, lambda key: None)
    live = plan.items[KEY]
    assert isinstance(live, ItemState)
    assert live.source_updated_at == removal.source_updated_at
    suffix = replayed(batch[2:])
    assert isinstance(suffix, ItemState)
    assert suffix.source_updated_at == retry.source_updated_at
    [restated] = restatements(plan)
    assert restated.restates == Position(0, 3)


def test_two_untimed_postbacks_of_a_new_item_in_one_batch_keep_the_restatement() -> None:
    first = change(minute=None, name="Mug")
    plan = plan_batch([record(0, first), record(1, UNTIMED)], {}, lambda key: None)
    assert [r.key for r in restatements(plan)] == [KEY]


NAMES = st.sampled_from(["Mug", "Cup", None])
PRICES = st.sampled_from(["3.00", "4.00", None])
STOCK = st.sampled_from([Availability.IN_STOCK, Availability.OUT_OF_STOCK, None])


@st.composite
def events(draw: st.DrawFn) -> tuple[ProductChange, int | None]:
    kind = draw(st.sampled_from([ChangeType.UPDATED, ChangeType.UPDATED, ChangeType.REMOVED]))
    minute = draw(st.one_of(st.none(), st.integers(0, 3)))
    event = change(minute=minute, price=draw(PRICES), stock=draw(STOCK), name=draw(NAMES),
                   kind=kind)  # fmt: skip
    return event, minute


ITEMS = ("sku-1", "sku-2", "sku-3")


@settings(max_examples=500, derandomize=True, database=None)
@given(st.lists(st.tuples(st.sampled_from(ITEMS), events()), min_size=1, max_size=8),
       st.lists(st.tuples(st.sampled_from(ITEMS), events()), max_size=4))  # fmt: skip
def test_only_a_new_items_lone_untimed_postback_loses_its_restatement(
    batch: list[tuple[str, tuple[ProductChange, int | None]]],
    earlier: list[tuple[str, tuple[ProductChange, int | None]]],
) -> None:
    """Differential, against the old rule (every untimed postback restated: the same plan with
    every item counted twice): the restatements owed now are the old ones less, at most, those
    of items the store knew nothing of whose one record in the batch is an untimed update;
    and replayed alone, that record gives the live state."""

    def records(events: list[tuple[str, tuple[ProductChange, int | None]]]) -> list[Incoming]:
        out: list[Incoming] = []
        for item, (event, minute) in events:
            event = dataclasses.replace(event, catalog_item_id=item)
            out.append(Incoming(0, len(out), "42", item, event, None))
            if event.change_type is ChangeType.REMOVED:
                at = None if minute is None else BASE_TIME + timedelta(minutes=minute)
                out.append(Incoming(0, len(out), "42", item, None, at))
        return out

    stored = plan_batch(records(earlier), {}, lambda key: None).items
    plan = plan_batch(records(batch), {}, lambda key: stored.get(key))
    now = {r.key: r for r in restatements(plan)}
    old = {r.key: r for r in restatements(dataclasses.replace(plan, again=set(plan.before)))}
    assert now.items() <= old.items()
    for key in old.keys() - now.keys():
        last = plan.last_records[key]
        assert plan.before[key] is None
        assert key not in plan.again
        assert last.change is not None
        assert last.change.source_updated_at is None
        alone = plan_batch([last], {}, lambda key: None).items[key]
        assert alone == plan.items[key]
