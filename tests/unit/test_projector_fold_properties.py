"""Property: whatever the platform sends and however the topic interleaves it, the views are the
acknowledged changes applied in source-time order, and what compaction keeps builds the same.

Generated: full and partial postbacks (some without DateLastUpdated), removals (event +
tombstone), re-adds, immediate repeats, older retries delivered late, and the projector's own
restatements written after newer records (batch boundaries and restatement delays are drawn
too); replays see the whole compacted topic and any partly cleaned one (a suffix of each key's
records). The projector is simulated with the pure fold (plan_batch, restatements) over an
in-memory store. No I/O.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_contract.events import Availability, ChangeType, ProductChange
from projector.batch import ItemKey, plan_batch
from projector.item_state import ItemState, Known
from projector.records import Incoming
from projector.restatements import restatements
from tests.factories import BASE_TIME, change, replace

EXAMPLES = 300  # per run; derandomized, so CI runs the same examples every time
PRODUCTS = ("p0", "p1")
SHOWN = ("current_price", "name", "stock_availability", "source_updated_at")
# Postbacks twice as likely; "restate" writes the oldest restatements the projector still owes.
ACTIONS = ("postback", "postback", "late postback", "repeat", "late retry", "batch", "restate")
STOCK = (Availability.IN_STOCK, Availability.OUT_OF_STOCK)


@dataclass
class Model:
    """Each product's acknowledged changes applied in source-time order (ties: in the order
    they were acknowledged): fields merged, removed, re-added; revision counts changes."""

    acknowledged: list[ProductChange] = field(default_factory=list)

    def items(self) -> dict[str, tuple[dict[str, Any], int]]:
        found: dict[str, tuple[dict[str, Any], int]] = {}
        for event in sorted(self.acknowledged, key=minutes):
            item = event.catalog_item_id
            if event.change_type is ChangeType.REMOVED:
                found.pop(item, None)
                continue
            fields, revision = found.get(item, ({}, 0))
            sent = {n: getattr(event, n) for n in SHOWN if getattr(event, n) is not None}
            merged = {**fields, **sent}
            if merged != fields:  # a change that changes nothing (time included) is no change
                found[item] = (merged, revision + 1)
        return found


@dataclass
class Topic:
    """One partition of the product topic, and a projector consuming it into a store."""

    records: list[Incoming] = field(default_factory=list)
    store: dict[ItemKey, Known] = field(default_factory=dict)
    applied: int = 0
    pending: list[list[Incoming]] = field(default_factory=list)  # restatements not yet written

    def write(self, event: ProductChange) -> None:
        """As the receiver writes a postback: the event, and a tombstone after a removal."""
        self._append(event, None)
        if event.change_type is ChangeType.REMOVED:
            self._append(None, event.source_updated_at)

    def _append(self, event: ProductChange | None, at: datetime | None) -> None:
        item = event.catalog_item_id if event else self.records[-1].item_id
        self.records.append(Incoming(0, len(self.records), "c", item, event, at))

    def consume(self) -> None:
        """One batch up to the end; its restatements are written later (after newer records)."""
        plan = plan_batch(self.records[self.applied :], {0: self.applied}, self.store.get)
        self.store.update(plan.items)
        self.applied = plan.next_offsets.get(0, self.applied)
        found = restatements(plan)
        if found:
            self.pending.append(
                [
                    Incoming(
                        0,
                        0,  # numbered when written
                        *r.key,
                        r.says if isinstance(r.says, ProductChange) else None,
                        None if isinstance(r.says, ProductChange) else r.says.source_updated_at,
                        r.restates,
                    )
                    for r in found
                ]
            )

    def write_restatements(self) -> None:
        for record in self.pending.pop(0):
            self.records.append(dataclasses.replace(record, offset=len(self.records)))


def views(store: dict[ItemKey, Known]) -> dict[str, tuple[dict[str, Any], int]]:
    return {
        key[1]: ({n: getattr(s, n) for n in SHOWN if getattr(s, n) is not None}, s.revision)
        for key, s in store.items()
        if isinstance(s, ItemState)
    }


def without_revisions(found: dict[str, tuple[dict[str, Any], int]]) -> dict[str, Any]:
    return {item: fields for item, (fields, _) in found.items()}


def compacted(records: list[Incoming], keep_tombstones: bool) -> dict[ItemKey, Known]:
    """What a replay of the compacted topic builds: each key's last record only."""
    last = {(r.catalog_id, r.item_id): r for r in records}
    kept = sorted(
        (r for r in last.values() if keep_tombstones or r.change is not None),
        key=lambda r: r.offset,
    )
    return dict(plan_batch(kept, {}, lambda key: None).items)


def minutes(event: ProductChange) -> int:
    if event.source_updated_at is None:
        return -1  # untimed events are not retried late (the model does not order them)
    return int((event.source_updated_at - BASE_TIME).total_seconds() // 60)


@st.composite
def postbacks(draw: st.DrawFn) -> ProductChange:
    item = draw(st.sampled_from(PRODUCTS))
    kind = draw(st.sampled_from(["full", "price", "name", "stock", "removed"]))
    values: dict[str, Any] = {
        "price": f"{draw(st.integers(1, 4))}.00",
        "name": draw(st.sampled_from(["Mug", "Cup"])),
        "stock": draw(st.sampled_from(STOCK)),
    }
    if kind == "removed":
        return change(item, "c", kind=ChangeType.REMOVED)
    if kind != "full":
        values = {kind: values[kind]}
    return change(item, "c", **values)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,  # nothing carried between runs: CI runs exactly these examples
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.data())
def test_views_are_the_acknowledged_changes_and_compaction_keeps_them(data: st.DataObject) -> None:
    topic, model = Topic(), Model()
    sent: dict[str, list[ProductChange]] = {p: [] for p in PRODUCTS}  # acknowledged, in order
    clock = {p: 0 for p in PRODUCTS}
    for step in range(data.draw(st.integers(1, 30), label="steps")):
        action = data.draw(
            st.sampled_from(ACTIONS),
            label=f"step {step}",
        )
        if action in ("postback", "late postback"):
            event = data.draw(postbacks(), label="postback")
            item = event.catalog_item_id
            if action == "postback":
                clock[item] += data.draw(st.integers(0, 2), label="minutes later (0: same time)")
                minute = clock[item]
            else:
                # First sent after newer ones (the platform's ~10 minutes): its effect must be
                # wiped by a newer removal, else last-writer-wins and merging disagree.
                removals = [e for e in sent[item] if e.change_type is ChangeType.REMOVED]
                if not removals:
                    continue
                minute = minutes(removals[-1]) - data.draw(st.integers(1, 2), label="earlier")
            # No DateLastUpdated mapped: never stale, ordered by the topic alone.
            untimed = data.draw(st.integers(0, 5), label="untimed (0)") == 0
            event = replace(
                event,
                source_updated_at=None if untimed else change(minute=minute).source_updated_at,
                event_id=uuid.UUID(int=len(topic.records) + 1),  # distinct changes, distinct ids
            )
            sent[item].append(event)
            model.acknowledged.append(event)
            topic.write(event)
        elif action == "repeat":  # the 200 was lost: the same postback again, right away
            item = data.draw(st.sampled_from(PRODUCTS), label="product")
            if sent[item]:
                topic.write(sent[item][-1])
        elif action == "late retry":  # an older postback retried after newer ones
            item = data.draw(st.sampled_from(PRODUCTS), label="product")
            newest = max((minutes(e) for e in sent[item]), default=0)
            older = [e for e in sent[item] if minutes(e) < newest]
            if older:
                topic.write(data.draw(st.sampled_from(older), label="retried"))
        elif action == "batch":
            topic.consume()
        elif topic.pending:
            topic.write_restatements()
    for _ in range(10):  # quiet: the projector catches up and writes what it still owes
        topic.consume()
        if not topic.pending:
            break
        while topic.pending:
            topic.write_restatements()
    assert not topic.pending, "restatements did not converge once the products were quiet"
    live = views(topic.store)
    if all(e.source_updated_at is not None for e in model.acknowledged):
        assert live == model.items()  # every acknowledged change, each applied once
    for keep_tombstones in (True, False):
        replayed = views(compacted(topic.records, keep_tombstones))
        assert without_revisions(replayed) == without_revisions(live)
    # The cleaner keeps a suffix of each key's records (its uncleaned head stays whole).
    by_key: dict[ItemKey, list[Incoming]] = {}
    for record in topic.records:
        by_key.setdefault((record.catalog_id, record.item_id), []).append(record)
    kept = sorted(
        (r for key, rs in sorted(by_key.items())
         for r in rs[min(data.draw(st.integers(0, 30), label=f"cleaned {key}"), len(rs) - 1) :]),
        key=lambda r: r.offset,
    )  # fmt: skip
    replayed = views(dict(plan_batch(kept, {}, lambda key: None).items))
    assert without_revisions(replayed) == without_revisions(live)
