"""Differential, with hostile values: the catch-up paths that build states and events without
`__init__` (frozen_build), and the time conversions by timedelta arithmetic, give exactly what
the code they replaced gave. The replaced code is kept here (and in test_projector_fast_paths)
as the oracle.

Values: every field at once, over wide ranges: decimals of any exponent, datetimes from year 1
to 9999 in any zone, text with NUL and lone surrogates, NaN where a value can be one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract import codec
from catalog_contract.events import PRODUCT_FIELDS, Availability, ChangeType, ProductChange
from catalog_contract.headers import RESTATES
from catalog_contract.keys import product_key
from projector import item_fold, restatements
from projector.batch import BatchPlan, CatalogDelta, catalog_deltas
from projector.item_state import IN_STOCK, ItemState, Known, Position, Removed
from projector.records import Incoming, read_record
from projector.rows import from_micros, from_row, micros, to_row
from tests.factories import BASE_TIME
from tests.unit.test_projector_fast_paths import (
    _outcome,
    old_apply,
    old_from_record,
    old_from_row,
    old_to_row,
)

WIDE = settings(max_examples=200, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip

# --- the replaced code (oracle) ---------------------------------------------------------------


def old_micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def old_from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def old_states_fully(change: ProductChange, state: ItemState, replaces: bool) -> bool:
    if change.source_updated_at is None and not replaces:
        return False
    if str(change.event_id) != state.last_event_id.split(" ")[0]:
        return False  # (stop 37's rule: a copy of the state is not the event that made it)
    return all(
        getattr(change, name) == getattr(state, name)
        for name in (*PRODUCT_FIELDS, "source_updated_at")
    )


# --- generators -------------------------------------------------------------------------------

_zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=23,
                          minutes=59, microseconds=1))])  # fmt: skip
_moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=_zones)  # fmt: skip
_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=6) | st.sampled_from(
    ["\x00", "\ud800", "a\udfffb", ""]
)
_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4) | st.sampled_from(
    [Decimal("1E+5000"), Decimal("-0.0000"), Decimal("123456789012345678.9999")]
)


@st.composite
def full_events(draw: st.DrawFn, item: str = "p") -> ProductChange:
    optional = st.none()
    return ProductChange(
        event_id=draw(st.sampled_from([uuid.UUID(int=n) for n in range(3)])),
        received_at=draw(_moments),
        change_type=draw(st.sampled_from(list(ChangeType))),
        catalog_id=draw(_text),
        catalog_item_id=item,
        source_updated_at=draw(optional | _moments),
        name=draw(optional | _text),
        description=draw(optional | _text),
        manufacturer=draw(optional | _text),
        category=draw(optional | _text),
        labels=draw(optional | st.lists(_text, max_size=3).map(tuple)),
        url=draw(optional | _text),
        mobile_url=draw(optional | _text),
        image_url=draw(optional | _text),
        additional_image_urls=draw(optional | st.lists(_text, max_size=2).map(tuple)),
        current_price=draw(optional | _decimals),
        original_price=draw(optional | _decimals),
        discount_percentage=draw(optional | st.integers(-(2**31), 2**31 - 1)),
        currency=draw(optional | _text),
        stock_availability=draw(optional | st.sampled_from(list(Availability))),
        gtin=draw(optional | _text),
        mpn=draw(optional | _text),
        sku=draw(optional | _text),
        sale_ends_at=draw(optional | _moments),
        shipping_cost=draw(optional | _decimals),
    )


@st.composite
def full_states(draw: st.DrawFn) -> ItemState:
    event = draw(full_events())
    return ItemState(
        catalog_id=event.catalog_id,
        item_id=event.catalog_item_id,
        last_event_id=str(draw(st.sampled_from([uuid.UUID(int=n) for n in range(3)]))),
        received_at=event.received_at,
        partition=draw(st.integers(0, 2**31 - 1)),
        offset=draw(st.integers(0, 2**63 - 1)),
        revision=draw(st.integers(1, 2**63 - 1)),
        source_updated_at=event.source_updated_at,
        **{name: getattr(event, name) for name in PRODUCT_FIELDS},
    )


_FIRST_MICRO, _LAST_MICRO = -62135596800000000, 253402300799999999  # datetime's range, UTC

# --- tests ------------------------------------------------------------------------------------


@WIDE
@given(st.none() | _moments)
def test_times_become_micros_as_before(moment: datetime | None) -> None:
    assert micros(moment) == old_micros(moment)


@WIDE
@given(
    st.none() | st.integers(-(2**70), 2**70) | st.integers(-62135596800000000, 253402300799999999)
)
def test_micros_become_times_as_before(value: int | None) -> None:
    new, old = _outcome(from_micros, value), _outcome(old_from_micros, value)
    assert new == old
    if isinstance(new, datetime):
        assert new.tzinfo is UTC
        assert micros(new) == value


def test_times_at_the_edges_of_datetime() -> None:
    for moment in (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)):
        value = micros(moment)
        assert value == old_micros(moment)
        assert from_micros(value) == old_from_micros(value) == moment
    assert micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert micros(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1
    assert from_micros(-1) == datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    with pytest.raises(TypeError):
        micros(datetime(2026, 1, 1))  # naive: refused, as before


@WIDE
@given(full_states())
def test_hostile_states_go_to_rows_and_back_as_before(state: ItemState) -> None:
    row = _outcome(to_row, state)
    assert row == _outcome(old_to_row, state)
    if isinstance(row, tuple) and not (isinstance(row[0], type)):
        back = _outcome(from_row, row)
        assert back == _outcome(old_from_row, row)
        assert type(back) is ItemState


def test_a_stored_symbol_unknown_to_this_version_is_refused_as_before() -> None:
    state = ItemState(catalog_id="c", item_id="i", last_event_id="e",
                      received_at=datetime(2026, 1, 1, tzinfo=UTC), partition=0, offset=0,
                      revision=1, stock_availability=Availability.IN_STOCK)  # fmt: skip
    row = list(to_row(state))
    row[list(row).index("IN_STOCK")] = "SOLD_OUT"
    found = _outcome(from_row, tuple(row))
    assert found == _outcome(old_from_row, tuple(row))
    assert found == (ValueError, "'SOLD_OUT' is not a valid Availability")


@WIDE
@given(full_events(), st.sampled_from(["uuid", "text"]), st.booleans())
def test_hostile_records_read_as_before(event: ProductChange, kind: str, extra: bool) -> None:
    record: dict[str, Any] = event.to_record()
    record["event_id"] = event.event_id if kind == "uuid" else str(event.event_id)
    if extra:
        record["a_field_from_a_newer_schema"] = "\x00"
    found = ProductChange.from_record(record)
    assert found == old_from_record(record) == event
    assert type(found) is ProductChange


_known = st.none() | full_states() | st.builds(Removed, st.just(""), st.just("p"),
                                              st.none() | _moments, st.integers(0, 3),
                                              st.integers(0, 3))  # fmt: skip


@WIDE
@given(_known, full_events(), st.integers(0, 3), st.integers(0, 9),
       st.none() | st.builds(Position, st.integers(0, 3), st.integers(0, 9)))  # fmt: skip
def test_hostile_events_fold_as_before(
    previous: Known, change: ProductChange, partition: int, offset: int, restates: Position | None
) -> None:
    if previous is not None:
        change = ProductChange(**{**_fields(change), "catalog_id": previous.catalog_id})
    at = Position(partition, offset)
    new = _outcome(item_fold.apply, previous, change, at, restates)
    assert new == _outcome(old_apply, previous, change, at, restates)


@WIDE
@given(full_states(), full_events(), st.booleans(), st.booleans())
def test_restatement_checks_as_before(
    state: ItemState, change: ProductChange, same: bool, replaces: bool
) -> None:
    if same:  # the record that made the state: what the check is mostly asked
        stated = {n: getattr(state, n) for n in (*PRODUCT_FIELDS, "source_updated_at")}
        made_by = uuid.UUID(state.last_event_id.split(" ")[0])
        change = ProductChange(**{**_fields(change), **stated, "event_id": made_by})
    assert restatements._states_fully(change, state, replaces) == old_states_fully(
        change, state, replaces
    )


def _fields(change: ProductChange) -> dict[str, Any]:
    return {name: getattr(change, name) for name in change.__dataclass_fields__}


# --- catalog counts: added up in integers, as the CatalogDelta objects did --------------------


def old_counts(state: Known) -> CatalogDelta:
    if not isinstance(state, ItemState):
        return CatalogDelta()
    availability = state.stock_availability
    return CatalogDelta(
        1, int(availability in IN_STOCK), int(availability is Availability.OUT_OF_STOCK)
    )


def old_catalog_deltas(plan: BatchPlan) -> dict[str, CatalogDelta]:
    deltas: dict[str, CatalogDelta] = {}
    for key, after in plan.items.items():
        old, new = old_counts(plan.before.get(key)), old_counts(after)
        current = deltas.get(key[0], CatalogDelta())
        deltas[key[0]] = CatalogDelta(
            current.items + new.items - old.items,
            current.in_stock + new.in_stock - old.in_stock,
            current.out_of_stock + new.out_of_stock - old.out_of_stock,
        )
    return deltas


def _counted(catalog: str, item: str, stock: Availability | None) -> ItemState:
    return ItemState(catalog_id=catalog, item_id=item, last_event_id="e", received_at=BASE_TIME,
                     partition=0, offset=0, revision=1, stock_availability=stock)  # fmt: skip


_counted_states = st.one_of(
    st.none(),
    st.builds(Removed, st.sampled_from("ab"), st.sampled_from("xyz"), st.none(), st.just(0),
              st.just(0)),
    st.builds(_counted, st.sampled_from("ab"), st.sampled_from("xyz"),
              st.none() | st.sampled_from(list(Availability))),
)  # fmt: skip
_item_keys = st.tuples(st.sampled_from("abc"), st.sampled_from("xyz"))


@WIDE
@given(st.dictionaries(_item_keys, _counted_states), st.dictionaries(_item_keys, _counted_states))
def test_catalog_counts_move_as_before(
    items: dict[tuple[str, str], Known], before: dict[tuple[str, str], Known]
) -> None:
    plan = BatchPlan(items=items, before=before)
    found = catalog_deltas(plan)
    assert found == old_catalog_deltas(plan)
    assert list(found) == list(old_catalog_deltas(plan))  # the same order: the store's writes


def test_catalog_counts_exactly() -> None:
    plan = BatchPlan(
        items={("a", "x"): _counted("a", "x", Availability.OUT_OF_STOCK),
               ("a", "y"): Removed("a", "y", None, 0, 0),
               ("b", "x"): _counted("b", "x", Availability.LIMITED_AVAILABILITY),
               ("b", "y"): None},
        before={("a", "x"): _counted("a", "x", Availability.IN_STOCK),
                ("a", "y"): _counted("a", "y", None),
                ("b", "y"): _counted("b", "y", Availability.OUT_OF_STOCK)},
    )  # fmt: skip
    assert catalog_deltas(plan) == {"a": CatalogDelta(-1, -1, 1), "b": CatalogDelta(0, 1, -1)}


def test_a_record_is_read_into_the_incoming_init_builds() -> None:
    event = ProductChange(event_id=uuid.UUID(int=1), received_at=BASE_TIME,
                          change_type=ChangeType.UPDATED, catalog_id="c\x00",
                          catalog_item_id="i")  # fmt: skip
    key = product_key("c\x00", "i")
    found = read_record(3, 9, key, codec.encode(event), [(RESTATES, b"1:5")])
    assert found == Incoming(3, 9, "c\x00", "i", event, None, Position(1, 5))
    assert type(found) is Incoming
    assert read_record(3, 9, key, codec.encode(event), None) == Incoming(3, 9, "c\x00", "i", event)
