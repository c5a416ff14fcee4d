"""Differential: the per-record fast paths of catch-up (ProductChange.from_record, the fold's
`apply`, plan_batch's feed, rows <-> states) give exactly what the straightforward code they
replaced gave. The replaced code is kept below as the oracle, verbatim but for its name (and
for the rules stop 37 changed: an untimed re-add keeps its removal's time; a retry of any
event applied at the item's source time, not only the last, is a repeat; and stop 39's: an
untimed removal a re-added item keeps the id of removes it again).

Generated: events and states over a few values per field (so duplicates, ties of source time,
partial postbacks merging, re-adds after removals and restatements happen often), whole
batches of them with repeats, reorderings and tombstones, and records fastavro never reads
(unknown symbols, unhashable values, missing and extra fields) for the errors.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract.events import (
    PRODUCT_FIELDS,
    Availability,
    ChangeType,
    ProductChange,
)
from catalog_contract.item_fields import FieldKind, names_of
from projector import item_fold
from projector.batch import FeedEntry, plan_batch
from projector.item_state import ItemState, Known, Outcome, Position, Removed, Verdict
from projector.records import Incoming
from projector.rows import (
    ITEM_COLUMN_KINDS,
    ITEM_COLUMNS,
    from_micros,
    from_row,
    micros,
    price_from_units,
    price_units,
    to_row,
)
from tests.factories import BASE_TIME

EXAMPLES = 300  # derandomized: CI runs the same examples every time
FAST = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip

# --- the replaced code (oracle) ---------------------------------------------------------------

_LIST_FIELDS = names_of(FieldKind.LIST)


def old_from_record(record: dict[str, Any]) -> ProductChange:
    known = {f.name for f in dataclasses.fields(ProductChange)}
    values = {k: v for k, v in record.items() if k in known}
    values["change_type"] = ChangeType(values["change_type"])
    if values.get("stock_availability") is not None:
        values["stock_availability"] = Availability(values["stock_availability"])
    for name in _LIST_FIELDS:
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    event_id = values["event_id"]
    values["event_id"] = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(event_id)
    return ProductChange(**values)


_PRICES = tuple(c for c, kind in ITEM_COLUMN_KINDS.items() if kind is FieldKind.PRICE)
_LISTS = tuple(c for c, kind in ITEM_COLUMN_KINDS.items() if kind is FieldKind.LIST)
_TIMES = tuple(c for c, kind in ITEM_COLUMN_KINDS.items() if kind is FieldKind.TIME)


def old_to_row(state: ItemState) -> tuple[Any, ...]:
    values: list[Any] = []
    for column in ITEM_COLUMNS:
        value = getattr(state, column)
        if column in _PRICES:
            value = price_units(value)
        elif column in _LISTS:
            value = None if value is None else json.dumps(list(value), ensure_ascii=False)
        elif column in _TIMES:
            value = micros(value)
        elif column == "stock_availability" and value is not None:
            value = value.value
        values.append(value)
    return tuple(values)


def old_from_row(row: tuple[Any, ...]) -> ItemState:
    fields: dict[str, Any] = dict(zip(ITEM_COLUMNS, row, strict=True))
    for column in _PRICES:
        fields[column] = price_from_units(fields[column])
    for column in _LISTS:
        fields[column] = None if fields[column] is None else tuple(json.loads(fields[column]))
    for column in _TIMES:
        fields[column] = from_micros(fields[column])
    if fields["stock_availability"] is not None:
        fields["stock_availability"] = Availability(fields["stock_availability"])
    return ItemState(**fields)


def old_apply(
    previous: Known, change: ProductChange, at: Position, restates: Position | None = None
) -> Outcome:
    if restates is not None:
        return item_fold._restated(previous, change, restates)
    ids = (
        (previous.last_event_id if isinstance(previous, ItemState) else previous.event_ids)
        if previous
        else ""
    )
    removed_again = (  # an untimed removal a re-added item keeps (issue 9, defect 2: stop 39)
        change.change_type is ChangeType.REMOVED
        and change.source_updated_at is None
        and isinstance(previous, ItemState)
    )
    if str(change.event_id) in ids.split():  # (a marker's ids too: stop 38)
        if not removed_again:
            return Outcome(Verdict.DUPLICATE, previous)
        assert isinstance(previous, ItemState)  # (the item's ids but the removal's: it is new)
        kept = " ".join(i for i in ids.split() if i != str(change.event_id))
        previous = dataclasses.replace(previous, last_event_id=kept)
    if previous is not None and item_fold._is_stale(previous, change.source_updated_at):
        return Outcome(Verdict.STALE, previous)
    key = (change.catalog_id, change.catalog_item_id)
    if change.change_type is ChangeType.REMOVED:
        return item_fold.removed(
            previous, change.source_updated_at, at, key, None, str(change.event_id)
        )
    kept_time = previous.source_updated_at if previous else None  # a re-add: the removal's
    re_added = []  # a re-add of its removal's time keeps the marker's ids (stop 38)
    if isinstance(previous, Removed):
        if previous.source_updated_at == (change.source_updated_at or kept_time):
            re_added = previous.event_ids.split()
        previous = None
    merged = {
        name: value
        if (value := getattr(change, name)) is not None
        else (getattr(previous, name) if previous else None)
        for name in PRODUCT_FIELDS
    }
    source_updated_at = change.source_updated_at or kept_time
    event_ids = [str(change.event_id), *re_added]
    if previous is not None and previous.source_updated_at == source_updated_at:
        event_ids += previous.last_event_id.split()  # (a tie: the ids of that time, stop 37)
    state = ItemState(
        catalog_id=change.catalog_id,
        item_id=change.catalog_item_id,
        last_event_id=" ".join(event_ids[:8]),
        received_at=change.received_at,
        partition=at.partition,
        offset=at.offset,
        revision=(previous.revision if previous else 0) + 1,
        source_updated_at=source_updated_at,
        **merged,
    )
    if (
        previous is not None
        and previous.source_updated_at == state.source_updated_at
        and all(getattr(previous, name) == getattr(state, name) for name in PRODUCT_FIELDS)
    ):  # a copy: its id remembered after the applied one's (test_attack37c_retries_generated)
        applied, *earlier = previous.last_event_id.split()
        ids = " ".join([applied, str(change.event_id), *earlier][:8])
        return Outcome(Verdict.DUPLICATE, dataclasses.replace(previous, last_event_id=ids))
    return Outcome(Verdict.APPLIED, state, tuple(item_fold._notable(previous, state)))


def old_feed(records: list[Incoming], feed_from: dict[int, int] | None) -> list[FeedEntry]:
    """plan_batch's feed as it was built: every applied record's changes, with its event id."""
    feed: list[FeedEntry] = []
    items: dict[tuple[str, str], Known] = {}
    next_offsets: dict[int, int] = {}
    for record in records:
        if record.offset < next_offsets.get(record.partition, 0):
            continue
        next_offsets[record.partition] = record.offset + 1
        key = (record.catalog_id, record.item_id)
        previous = items.get(key)
        at = Position(record.partition, record.offset)
        if record.change is None:
            outcome = item_fold.removed(previous, record.tombstone_source_updated_at, at, key,
                                        record.restates, record.tombstone_event_id)  # fmt: skip
            event_id = None
        else:
            outcome = old_apply(previous, record.change, at, record.restates)
            event_id = str(record.change.event_id)
        if outcome.verdict is not Verdict.APPLIED:
            if record.restates is None and (judged := _judged(outcome.state, at)):
                items[key] = judged
            continue
        items[key] = outcome.state
        if feed_from is None or record.offset >= feed_from.get(record.partition, 0):
            feed.extend(FeedEntry(change, at, event_id) for change in outcome.changes)
    return feed


def _judged(state: Known, at: Position) -> Known:
    if state is None or (state.partition, state.offset) >= (at.partition, at.offset):
        return None
    return dataclasses.replace(state, partition=at.partition, offset=at.offset)


# --- generators -------------------------------------------------------------------------------

_minutes = st.none() | st.integers(0, 3).map(lambda m: BASE_TIME + timedelta(minutes=m))
_prices = st.none() | st.sampled_from(["1.00", "2.5000", "0.0001", "12.99"]).map(Decimal)
_stock = st.none() | st.sampled_from(list(Availability))
_names = st.none() | st.sampled_from(["Mug", "Cup", "Tasse \u2603"])
_labels = st.none() | st.lists(st.sampled_from(["a", "b", "\u00e9"]), max_size=2).map(tuple)
_ids = st.sampled_from([uuid.UUID(int=n) for n in range(3)])


@st.composite
def events(draw: st.DrawFn, items: tuple[str, ...] = ("p0", "p1")) -> ProductChange:
    return ProductChange(
        event_id=draw(_ids),
        received_at=BASE_TIME + timedelta(seconds=draw(st.integers(0, 2))),
        change_type=draw(st.sampled_from(list(ChangeType))),
        catalog_id="c",
        catalog_item_id=draw(st.sampled_from(items)),
        source_updated_at=draw(_minutes),
        name=draw(_names),
        labels=draw(_labels),
        current_price=draw(_prices),
        original_price=draw(_prices),
        stock_availability=draw(_stock),
        discount_percentage=draw(st.none() | st.integers(0, 2)),
        sale_ends_at=draw(_minutes),
        shipping_cost=draw(_prices),
    )


@st.composite
def states(draw: st.DrawFn) -> Known:
    kind = draw(st.sampled_from(["none", "removed", "item"]))
    if kind == "none":
        return None
    partition, offset = draw(st.integers(0, 1)), draw(st.integers(0, 6))
    if kind == "removed":
        ids = " ".join(str(i) for i in draw(st.lists(_ids, max_size=2, unique=True)))
        item = draw(st.sampled_from(["p0", "p1"]))
        return Removed("c", item, draw(_minutes), partition, offset, ids)
    event = draw(events())
    return ItemState(
        catalog_id="c",
        item_id=event.catalog_item_id,
        last_event_id=str(draw(_ids)),
        received_at=event.received_at,
        partition=partition,
        offset=offset,
        revision=draw(st.integers(1, 3)),
        source_updated_at=draw(_minutes),
        **{name: getattr(event, name) for name in PRODUCT_FIELDS},
    )


_positions = st.none() | st.builds(Position, st.integers(0, 1), st.integers(0, 6))


@FAST
@given(states(), events(), st.integers(0, 1), st.integers(0, 6), _positions)
def test_apply_folds_as_before(
    previous: Known, change: ProductChange, partition: int, offset: int, restates: Position | None
) -> None:
    at = Position(partition, offset)
    assert item_fold.apply(previous, change, at, restates) == old_apply(
        previous, change, at, restates
    )


@st.composite
def batches(draw: st.DrawFn) -> list[Incoming]:
    """Records of two partitions in offset order: events, repeats of earlier ones (retries
    delivered late), tombstones and restatements."""
    found: list[Incoming] = []
    offsets = [0, 0]
    for _ in range(draw(st.integers(1, 14))):
        partition = draw(st.integers(0, 1))
        kind = draw(st.sampled_from(["event", "event", "repeat", "tombstone", "restatement"]))
        event = draw(events(("p0", "p1") if partition == 0 else ("p2",)))
        earlier = [r.change for r in found if r.partition == partition and r.change is not None]
        if kind == "repeat" and earlier:
            event = draw(st.sampled_from(earlier))
        key = ("c", event.catalog_item_id)
        restates = draw(_positions) if kind == "restatement" else None
        change = None if kind == "tombstone" else event
        found.append(Incoming(partition, offsets[partition], *key, change, draw(_minutes),
                              restates))  # fmt: skip
        offsets[partition] += 1
    return found


@FAST
@given(batches(), st.none() | st.builds(dict, st.just([(0, 3), (1, 2)])))
def test_a_batch_feeds_as_before(records: list[Incoming], feed_from: dict[int, int] | None) -> None:
    plan = plan_batch(records, {}, lambda key: None, feed_from)
    assert plan.feed == old_feed(records, feed_from)
    every_state = [s for s in plan.items.values() if s is not None]
    assert all(isinstance(s, ItemState | Removed) for s in every_state)


@FAST
@given(states(), events(), st.integers(0, 1), st.integers(0, 6))
def test_apply_without_notable_changes_folds_as_before_less_its_changes(
    previous: Known, change: ProductChange, partition: int, offset: int
) -> None:
    """A rebuild's record below the feed's start does not work out its notable changes."""
    at = Position(partition, offset)
    before = old_apply(previous, change, at)
    removal = change.change_type is ChangeType.REMOVED  # its one change is cheap: still made
    expected = before if removal else dataclasses.replace(before, changes=())
    assert item_fold.apply(previous, change, at, None, False) == expected


@FAST
@given(batches(), st.builds(dict, st.just([(0, 3), (1, 2)])) | st.just({0: 99, 1: 99}))
def test_a_rebuilds_batch_plans_the_same_writes_whatever_it_feeds(
    records: list[Incoming], feed_from: dict[int, int]
) -> None:
    """Not feeding a change (and so not working it out) changes nothing else of the plan."""
    fed, unfed = (
        plan_batch(records, {}, lambda key: None),
        plan_batch(records, {}, lambda key: None, feed_from),
    )
    assert dataclasses.replace(unfed, feed=[]) == dataclasses.replace(fed, feed=[])
    assert unfed.feed == [
        e for e in fed.feed if e.position.offset >= feed_from[e.position.partition]
    ]


@FAST
@given(states())
def test_rows_convert_both_ways_as_before(state: Known) -> None:
    if not isinstance(state, ItemState):
        return
    row = to_row(state)
    assert row == old_to_row(state)
    assert from_row(row) == old_from_row(row) == state


def _outcome(call: Any, *args: Any) -> object:
    try:
        return call(*args)
    except Exception as exc:  # the same refusal: its kind and message
        return (type(exc), str(exc))


_wild = st.one_of(
    st.none(),
    st.sampled_from([*ChangeType, *Availability, "", "nope", "UPDATED", "IN_STOCK"]),
    st.lists(st.sampled_from(["a", "b"]), max_size=2),
    st.integers(-1, 1),
    st.just(uuid.UUID(int=7)),
    st.just(str(uuid.UUID(int=7))),
    st.just("not-a-uuid"),
)


@FAST
@given(events(), st.dictionaries(
    st.sampled_from(["change_type", "stock_availability", "labels", "additional_image_urls",
                     "event_id", "extra_field", "name"]), _wild, max_size=3),
    st.sets(st.sampled_from(["change_type", "event_id", "labels", "stock_availability"]),
            max_size=1))  # fmt: skip
def test_records_read_as_before(
    event: ProductChange, overrides: dict[str, Any], missing: set[str]
) -> None:
    record = event.to_record()
    record["event_id"] = event.event_id  # as fastavro returns it (a UUID)
    record.update(overrides)
    for name in missing:
        record.pop(name, None)
    assert _outcome(ProductChange.from_record, record) == _outcome(old_from_record, record)


def test_unknown_and_unhashable_symbols_are_refused_as_before() -> None:
    record = ProductChange(event_id=uuid.UUID(int=1), received_at=BASE_TIME,
                           change_type=ChangeType.UPDATED, catalog_id="c",
                           catalog_item_id="i").to_record()  # fmt: skip
    for value in ("nope", ["UPDATED"], None):
        wild = {**record, "change_type": value}
        found = _outcome(ProductChange.from_record, wild)
        assert isinstance(found, tuple)
        assert found == _outcome(old_from_record, wild)
    with pytest.raises(ValueError, match="is not a valid Availability"):
        ProductChange.from_record({**record, "stock_availability": "SOLD_OUT"})


def test_a_row_of_another_width_is_refused_as_before() -> None:
    state = ItemState(catalog_id="c", item_id="i", last_event_id="e", received_at=BASE_TIME,
                      partition=0, offset=0, revision=1)  # fmt: skip
    for row in (to_row(state)[:-1], (*to_row(state), None)):
        assert _outcome(from_row, row) == _outcome(old_from_row, row)
        assert isinstance(_outcome(from_row, row), tuple)
