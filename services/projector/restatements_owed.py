"""Which restatements a batch leaves owed, and which owed ones it settles. Pure.

A restatement whose write failed is owed: the key's last record in the topic may not say the
item's state, and the product may stay quiet. The batch's transaction keeps the debt (the key,
and the position of its last record the batch judged), so it survives restarts and is written
again until written (restatement_retry.py). A batch with a record of an owed key judges the key
again from its new last record: it settles the debt, and owes it afresh only if its own
restatement of the key fails. A debt settled wrongly would lose a restatement; one kept too long
only writes the item's current state once more, which its position rule makes harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Protocol

from projector.batch import BatchPlan, ItemKey
from projector.item_state import Known, Position, Removed
from projector.restatements import Restatement, snapshot


class _Placed(Protocol):
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


def at_or_past(record: _Placed, keep_from: Mapping[int, int]) -> bool:
    """Whether a record is at or past `keep_from` (0 for a partition it does not name): one not
    kept before, so this consumer keeps, restates and judges it."""
    return record.offset >= keep_from.get(record.partition, 0)


def settle_and_owe(
    plan: BatchPlan,
    failed: Iterable[Restatement],
    owed: Set[ItemKey],
    keep_from: dict[int, int] | None = None,
) -> None:
    """Fill the plan's `owe` (the failed restatements, at their key's last record here) and
    `settle` (keys in `owed` that the batch judges again and does not owe). A key whose last
    record here is below `keep_from` was not judged here (the consumer restates only at or past
    it): its debt stays."""
    for r in failed:
        last = plan.last_records[r.key]
        plan.owe[r.key] = Position(last.partition, last.offset)
    if owed:  # nearly always empty: no pass over the batch's items then
        plan.settle = [
            k
            for k, last in plan.last_records.items()
            if k in owed
            and k not in plan.owe
            and (keep_from is None or at_or_past(last, keep_from))
        ]


def restatement_of(key: ItemKey, known: Known) -> Restatement | None:
    """The restatement an owed key gets now: its CURRENT state at its current position (it may
    have changed since it was owed); None for an item the views do not know (nothing to say)."""
    if known is None:
        return None
    at = Position(known.partition, known.offset)
    return Restatement(key, known if isinstance(known, Removed) else snapshot(known), at)
