"""Property: where the consumer cuts its batches does not change the views. The same records
folded in one batch or in several (the live consumer's batches, a rebuild's, a worker's part)
leave the same items and the same catalog rows: counts and `last_change_at`, which the store
keeps as the newest of each batch's times. Simulated with the pure fold (plan_batch) over an
in-memory store that writes a plan as the SQL does (counts added, the newer time kept, an
emptied catalog dropped). No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_contract.events import Availability, ChangeType
from projector.batch import BatchPlan, ItemKey, plan_batch
from projector.item_state import Known
from projector.records import Incoming
from tests.examples import examples
from tests.factories import BASE_TIME, change

CATALOGS = ("k1", "k2")
ITEMS = ("a", "b", "c")


@dataclass
class Store:
    items: dict[ItemKey, Known] = field(default_factory=dict)
    catalogs: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)
    offsets: dict[int, int] = field(default_factory=dict)

    def write(self, plan: BatchPlan) -> None:
        """As store_write: item rows, then each touched catalog's counts and newest time
        (`CASE WHEN excluded.last_change_at > ...`), then catalogs left empty dropped."""
        self.items.update(plan.items)
        for catalog, delta in plan.catalogs.items():
            count, last = self.catalogs.get(catalog, (0, None))
            new = plan.last_change_at.get(catalog)
            if new is not None and (last is None or new > last):
                last = new
            self.catalogs[catalog] = (count + delta.items, last)
            if self.catalogs[catalog][0] == 0:
                del self.catalogs[catalog]
        self.offsets.update(plan.next_offsets)


def _record(offset: int, catalog: str, item: str, minute: int, kind: str) -> Incoming:
    if kind == "tombstone":
        return Incoming(0, offset, catalog, item, None, BASE_TIME.replace(minute=minute))
    event = change(
        item,
        catalog,
        minute=minute,
        stock=Availability.IN_STOCK if kind == "in" else Availability.OUT_OF_STOCK,
        kind=ChangeType.REMOVED if kind == "removed" else ChangeType.UPDATED,
    )
    return Incoming(0, offset, catalog, item, event)


_steps = st.lists(
    st.tuples(
        st.sampled_from(CATALOGS),
        st.sampled_from(ITEMS),
        st.integers(0, 30),
        st.sampled_from(["in", "out", "removed", "tombstone"]),
    ),
    min_size=1,
    max_size=14,
)


def _folded(records: list[Incoming], cuts: list[int]) -> Store:
    store = Store()
    bounds = [0, *sorted(set(cuts)), len(records)]
    for start, end in pairwise(bounds):
        store.write(plan_batch(records[start:end], dict(store.offsets), store.items.get))
    return store


@settings(max_examples=examples(400, 60), derandomize=True, deadline=None)
@given(steps=_steps, cuts=st.lists(st.integers(0, 14), max_size=4))
def test_the_views_do_not_depend_on_where_batches_are_cut(
    steps: list[tuple[str, str, int, str]], cuts: list[int]
) -> None:
    records = [_record(offset, *step) for offset, step in enumerate(steps)]
    cuts = [c for c in cuts if 0 < c < len(records)]
    whole, cut = _folded(records, []), _folded(records, cuts)
    assert cut.catalogs == whole.catalogs
    assert cut.items == whole.items


def test_an_item_added_and_removed_in_one_batch_still_dates_its_catalogs_change() -> None:
    """An example of the property: "b" added at minute 9 and removed at minute 10 beside "a"
    (minute 1). Cut between the two, the first batch dates the catalog 9 min (+1 s, when it
    was received); in one batch, the newest item state the batch ended with ("a") dated it
    1 min: the same records gave two views."""
    records = [
        _record(0, "k1", "a", 1, "in"),
        _record(1, "k1", "b", 9, "in"),
        _record(2, "k1", "b", 10, "removed"),
    ]
    received_b = BASE_TIME.replace(minute=9, second=1)
    assert _folded(records, [2]).catalogs == {"k1": (1, received_b)}
    assert _folded(records, []).catalogs == {"k1": (1, received_b)}
