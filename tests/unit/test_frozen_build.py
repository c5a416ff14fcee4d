"""catalog_contract.frozen_build: an object built without `__init__` is the object `__init__`
builds (equal, same hash, same repr, same pickle, still frozen), and classes it cannot build
for are refused when the builder is made, not when it is used."""

from __future__ import annotations

import dataclasses
import pickle
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract.events import ChangeType, ProductChange
from catalog_contract.frozen_build import builder, field_names
from projector.item_state import ItemState, build_state


@dataclass(frozen=True, slots=True)
class _Base:
    a: Any
    b: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Child(_Base):
    c: Any
    d: Any = "d"


_values = st.one_of(
    st.none(),
    st.integers(),
    st.text(),
    st.floats(allow_nan=True),
    st.tuples(st.integers()),
    st.decimals(allow_nan=False),
    st.just(Decimal("NaN")),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(_values, min_size=4, max_size=4))
def test_a_built_object_is_what_init_builds(values: list[Any]) -> None:
    built = builder(_Child)(*values)
    made = _Child(**dict(zip(field_names(_Child), values, strict=True)))
    assert type(built) is _Child
    assert repr(built) == repr(made)
    assert all(getattr(built, n) is v for n, v in zip(field_names(_Child), values, strict=True))
    assert dataclasses.astuple(built) == dataclasses.astuple(made)  # the same objects
    assert repr(pickle.loads(pickle.dumps(built))) == repr(made)  # noqa: S301 (our own bytes)
    if all(v == v for v in values):  # NaN is not equal to itself, in either object
        assert built == made
        assert hash(built) == hash(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.a = 1  # type: ignore[misc]


def test_exact_fields_in_order() -> None:
    assert field_names(_Child) == ("a", "b", "c", "d")
    built = builder(_Child)(1, 2, 3, 4)
    assert (built.a, built.b, built.c, built.d) == (1, 2, 3, 4)
    assert built == _Child(1, 2, c=3, d=4)
    assert dataclasses.replace(built, d=5) == _Child(1, 2, c=3, d=5)


def test_the_wrong_number_of_values_is_refused() -> None:
    build = builder(_Base)
    with pytest.raises(TypeError):
        build(1)
    with pytest.raises(TypeError):
        build(1, 2, 3)


@dataclass(frozen=True)
class _NoSlots:
    a: int


@dataclass(frozen=True, slots=True)
class _PostInit:
    a: int

    def __post_init__(self) -> None:
        raise AssertionError("must run")


@dataclass(frozen=True, slots=True)
class _NotInit:
    a: int
    b: int = dataclasses.field(default=0, init=False)


@pytest.mark.parametrize("cls", [_NoSlots, _PostInit, _NotInit])
def test_classes_it_cannot_build_for_are_refused(cls: type) -> None:
    with pytest.raises(TypeError):
        builder(cls)


def test_the_projectors_classes_build_their_fields_in_order() -> None:
    names = field_names(ItemState)
    state = build_state(*names)
    assert [getattr(state, n) for n in names] == list(names)
    assert state == ItemState(**{n: n for n in names})  # type: ignore[arg-type]
    event_names = field_names(ProductChange)
    event = builder(ProductChange)(*event_names)
    assert event == ProductChange(**{n: n for n in event_names})  # type: ignore[arg-type]


def test_catch_up_builds_no_event_or_state_through_init(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-record path (read, read back, fold, write) calls neither class's `__init__`:
    fails on the code before (which built two or three per record through it)."""
    from datetime import UTC, datetime

    from catalog_contract import codec
    from catalog_contract.keys import product_key
    from projector.batch import plan_batch
    from projector.records import read_record
    from projector.rows import from_row, to_row

    at = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = (
        ProductChange(event_id=uuid.UUID(int=n), received_at=at, change_type=ChangeType.UPDATED,
                      catalog_id="c", catalog_item_id="i", source_updated_at=at, name=f"v{n}")
        for n in (1, 2)
    )  # fmt: skip
    stored = plan_batch([read_record(0, 0, product_key("c", "i"), codec.encode(first), ())], {},
                        lambda key: None).items[("c", "i")]  # fmt: skip
    assert isinstance(stored, ItemState)
    row = to_row(stored)
    value = codec.encode(second)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("built through __init__")

    monkeypatch.setattr(ItemState, "__init__", refuse)
    monkeypatch.setattr(ProductChange, "__init__", refuse)
    record = read_record(0, 1, product_key("c", "i"), value, ())
    plan = plan_batch([record], {0: 1}, lambda key: from_row(row))
    folded = plan.items[("c", "i")]
    assert isinstance(folded, ItemState)
    assert (folded.name, folded.revision, folded.offset) == ("v2", 2, 1)
    assert to_row(folded)[0:2] == ("c", "i")
