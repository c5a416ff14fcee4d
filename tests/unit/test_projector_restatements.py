"""Which batches leave the topic's last record per key short of the truth. No I/O."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal

from catalog_contract.events import Availability, ChangeType, ProductChange
from projector.batch import plan_batch
from projector.item_fold import apply
from projector.item_state import ItemState, Known, Position, Removed, Verdict, newest_event_id
from projector.records import Incoming
from projector.restatements import restatements, snapshot
from tests.factories import BASE_TIME, change

KEY = ("42", "sku-1")
FULL = change(minute=1, price="10.00", stock=Availability.IN_STOCK, name="Mug")


def record(offset: int, event: ProductChange | None, removed_minute: int | None = None) -> Incoming:
    at = None if removed_minute is None else BASE_TIME + timedelta(minutes=removed_minute)
    return Incoming(0, offset, *KEY, event, at)


def state(*events: ProductChange) -> ItemState:
    known: Known = None
    for offset, event in enumerate(events):
        known = apply(known, event, Position(0, offset)).state
    assert isinstance(known, ItemState)
    return known


def test_a_full_snapshot_says_everything_itself() -> None:
    plan = plan_batch([record(1, FULL)], {}, lambda key: None)
    assert restatements(plan) == []


def test_a_partial_postback_is_completed_with_what_the_views_merged() -> None:
    known = state(FULL)
    plan = plan_batch([record(2, change(minute=2, price="8.00"))], {}, lambda key: known)
    [restated] = restatements(plan)
    assert isinstance(restated.says, ProductChange)
    assert (restated.says.name, restated.says.current_price) == ("Mug", Decimal("8.0000"))
    assert restated.says.stock_availability is Availability.IN_STOCK
    assert restated.says.source_updated_at == change(minute=2).source_updated_at
    assert restated.restates == Position(0, 2)  # the state's own position


def test_an_older_retry_written_last_is_superseded_by_the_newer_state() -> None:
    newer = state(FULL, change(minute=5, price="7.00", stock=Availability.IN_STOCK, name="Mug"))
    plan = plan_batch([record(3, FULL)], {}, lambda key: newer)
    [restated] = restatements(plan)
    assert restated.says == snapshot(newer)
    assert restated.says.current_price == Decimal("7.0000")


def test_a_stale_tombstone_is_superseded_by_the_item_it_failed_to_remove() -> None:
    known = state(FULL)
    plan = plan_batch([record(4, None, removed_minute=0)], {}, lambda key: known)
    assert [r.says for r in restatements(plan)] == [snapshot(known)]


def test_an_older_update_written_after_a_removal_gets_the_tombstone_again() -> None:
    gone = Removed(*KEY, change(minute=5).source_updated_at, 0, 9)
    plan = plan_batch([record(10, FULL)], {}, lambda key: gone)
    [restated] = restatements(plan)
    # The marker now says the topic up to the stale record it judged (a replay may start there).
    assert restated.says == dataclasses.replace(gone, offset=10)
    assert restated.restates == Position(0, 10)


def test_a_removal_event_is_judged_by_the_tombstone_that_follows_it() -> None:
    removal = change(minute=5, kind=ChangeType.REMOVED)
    plan = plan_batch([record(5, removal)], {}, lambda key: state(FULL))
    assert restatements(plan) == []
    plan = plan_batch([record(5, removal), record(6, None, 5)], {}, lambda key: state(FULL))
    assert restatements(plan) == []
    # A stale removal ending a batch: nothing yet, its (stale) tombstone gets the restatement.
    newer = state(change(minute=9, price="2.00", name="Mug"))
    stale = change(minute=2, kind=ChangeType.REMOVED)
    assert restatements(plan_batch([record(7, stale)], {}, lambda key: newer)) == []
    plan = plan_batch([record(8, None, 2)], {}, lambda key: newer)
    assert [r.says for r in restatements(plan)] == [snapshot(newer)]


def test_a_restatement_applied_says_everything_and_its_id_is_stable() -> None:
    known = state(FULL, change(minute=2, price="8.00"))
    restated = snapshot(known)
    assert restated.event_id == uuid.UUID(known.last_event_id)  # a retry after: a duplicate
    assert snapshot(known) == restated  # restating twice writes the same event
    plan = plan_batch([restating(7, restated, Position(0, 1))], {}, lambda key: known)
    assert restatements(plan) == []
    assert plan.feed == []  # nothing notable changed
    assert plan.verdicts[Verdict.DUPLICATE] == 1


def restating(offset: int, says: ProductChange | None, at: Position) -> Incoming:
    return dataclasses.replace(record(offset, says), restates=at)


def fold(*records: Incoming) -> Known:
    plan = plan_batch(records, {}, lambda key: None)
    return plan.items.get(KEY)


PARTIAL = change(minute=1, price="8.00")  # no name: the views merge it into FULL
NEWER = change(minute=1, price="6.00", stock=Availability.OUT_OF_STOCK, name="Cup")


def test_a_restatement_written_after_a_newer_postback_is_ignored_and_restated_again() -> None:
    # Defect 1: full, partial, then (same source second) a full one with a new name and price;
    # the projector's restatement of the partial state lands after the newer postback.
    first = plan_batch([record(0, FULL), record(1, PARTIAL)], {}, lambda key: None)
    [late] = restatements(first)
    assert late.restates == Position(0, 1)
    assert isinstance(late.says, ProductChange)
    topic = [
        record(0, FULL),
        record(1, PARTIAL),
        record(2, NEWER),
        restating(3, late.says, late.restates),
    ]
    plan = plan_batch(topic, {}, lambda key: None)
    assert plan.verdicts[Verdict.SUPERSEDED] == 1
    known = plan.items[KEY]
    assert isinstance(known, ItemState)
    assert (known.name, known.current_price, known.offset) == ("Cup", Decimal("6.0000"), 2)
    # The key's last record (the ignored restatement) does not say the state: restate again.
    [again] = restatements(plan)
    assert again.restates == Position(0, 2)
    assert again.says == snapshot(known)
    final = restating(4, again.says, again.restates)
    plan = plan_batch([*topic, final], {}, lambda key: None)
    assert plan.items[KEY] == known
    assert restatements(plan) == []
    # What compaction keeps (the last record) builds the same item: the same answer, that is.
    # The live item also remembers the ids of the other events of its source time (a retry of
    # one is a repeat: item_fold), which the last record does not carry; they are not served.
    compacted = fold(final)
    assert isinstance(compacted, ItemState)
    served = dataclasses.replace(known, last_event_id=newest_event_id(known.last_event_id))
    assert len(known.last_event_id.split()) == 3  # (FULL, PARTIAL and NEWER: one time)
    assert dataclasses.replace(compacted, revision=known.revision) == served


def test_a_restated_tombstone_cannot_remove_an_item_re_added_after_it() -> None:
    readded = change(minute=None, price="3.00", name="Mug")  # no DateLastUpdated
    topic = [
        record(0, FULL),
        record(1, None),  # a tombstone without a time: the removal
        record(2, readded),
        restating(3, None, Position(0, 1)),  # the removal, restated late
    ]
    plan = plan_batch(topic, {}, lambda key: None)
    known = plan.items[KEY]
    assert isinstance(known, ItemState)
    assert known.current_price == Decimal("3.0000")
    [again] = restatements(plan)
    assert again.says == snapshot(known)


def _live_then_replayed(
    events: list[ProductChange | tuple[ProductChange, ...]], keep_from: int
) -> tuple[Known, Known]:
    """The live projector folds `events` one batch each and writes what it owes after each;
    then a replay folds what compaction may keep: the key's records from `keep_from` on (the
    cleaner keeps a suffix of each key's records: the uncleaned head stays whole)."""
    known, log = live_log(events)
    replay = plan_batch(log[keep_from:], {}, lambda key: None)
    return known, replay.items.get(KEY)


def live_log(
    events: list[ProductChange | tuple[ProductChange, ...]],
) -> tuple[Known, list[Incoming]]:
    """What the live projector holds after folding `events` (a tuple: one batch) and the key's
    records it leaves on the topic: the events, the receiver's tombstones, its restatements."""
    log: list[Incoming] = []
    known: Known = None
    for group in events:
        start = len(log)
        for event in group if isinstance(group, tuple) else (group,):  # a tuple: one batch
            log.append(record(len(log), event))
            if event.change_type is ChangeType.REMOVED:  # as the receiver writes a removal
                log.append(Incoming(0, len(log), *KEY, None, event.source_updated_at))
        batch = log[start:]
        for _ in range(3):
            plan = plan_batch(batch, {}, lambda key, k=known: k)  # type: ignore[misc]
            batch = log[-1:]
            known = plan.items.get(KEY, known)
            owed = restatements(plan)
            if not owed:
                break
            [r] = owed
            if isinstance(r.says, ProductChange):
                log.append(Incoming(0, len(log), *KEY, r.says, None, r.restates))
            else:
                said = r.says.source_updated_at
                log.append(Incoming(0, len(log), *KEY, None, said, r.restates))
    return known, log


def _fields(known: Known) -> tuple[object, ...]:
    assert isinstance(known, ItemState)
    return (known.name, known.current_price, known.stock_availability, known.source_updated_at)


def test_a_replay_that_starts_at_a_repeat_the_live_views_ignored_gives_the_same_views() -> None:
    # full (0), partial (1), its restatement (2), the partial repeated: a lost 200 (3), and the
    # restatement the repeat leaves owed (4). Compaction may keep 3 and 4 only (4 is in the
    # active segment): the repeat alone says no name, so the restatement must still apply.
    partial = change(minute=2, price="8.00")
    live, replayed = _live_then_replayed([FULL, partial, partial], keep_from=3)
    assert _fields(replayed) == _fields(live)


def test_a_replay_that_starts_at_a_stale_retry_gives_the_same_views() -> None:
    newer = change(minute=5, price="7.00", stock=Availability.OUT_OF_STOCK, name="Cup")
    live, replayed = _live_then_replayed([FULL, newer, FULL], keep_from=2)
    assert _fields(live) == ("Cup", Decimal("7.0000"), Availability.OUT_OF_STOCK,
                             newer.source_updated_at)  # fmt: skip
    assert _fields(replayed) == _fields(live)


def test_an_untimed_full_postback_is_restated_since_a_replay_may_give_it_a_time() -> None:
    # Live: the untimed removal keeps the item's time (minute 1), so the retry of minute 0 is
    # stale, and the untimed re-add keeps the removal's time (minute 1). A replay starting at
    # the repeated removal (nothing to inherit) applies the retry, and the re-add inherits its
    # time (minute 0).
    removal = change(minute=None, kind=ChangeType.REMOVED)
    retry = change(minute=0, name="Cup")
    readd = change(minute=None, price="3.00", stock=Availability.IN_STOCK, name="Mug")
    events: list[ProductChange | tuple[ProductChange, ...]] = [
        FULL,
        removal,
        removal,
        (retry, readd),
    ]
    live, replayed = _live_then_replayed(events, keep_from=3)
    assert isinstance(live, ItemState)
    assert live.source_updated_at == FULL.source_updated_at
    assert isinstance(replayed, ItemState)
    assert replayed.source_updated_at == live.source_updated_at


def test_the_restatement_of_an_untimed_state_is_not_restated_again() -> None:
    known = state(change(minute=None, price="3.00", name="Mug"))
    plan = plan_batch([record(1, snapshot(known))], {}, lambda key: known)
    [restated] = restatements(plan)  # the untimed postback alone: a replay may give it a time
    quiet = Incoming(0, 2, *KEY, restated.says, None, restated.restates)  # type: ignore[arg-type]
    after = plan_batch([quiet], {}, lambda key: plan.items.get(KEY, known))
    assert restatements(after) == []  # converges: the restatement replaces, inherits nothing
