"""Where a replay `--to topic` put each record it copied, and so what a copied restatement must
say it restates there. Pure.

A projector's restatement names a position of the topic it was written to (`restates:
partition:offset`), and the fold applies it only if the item applied nothing after that
position. A copy gives records the target's offsets, so the header must be translated: to the
target offset of the last record copied at or before the restated one (the records of the item
after it are exactly those copied after it), or, when the copy holds nothing of the partition at
or before it, to just before the first record copied there. One corner cannot be said: the
first record copied to an empty target partition, at offset 0, is the item's own and later than
the restated position. Then the restatement is superseded on the copy as it is on the source
(a newer record of the item precedes it), and it is not copied (`restated` answers None).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right


class CopiedPositions:
    """Per partition, where each record copied came from and went: the copy's own records land
    one after the other from the target's end (another producer's among them are noted, from
    the first acknowledged out of place), so only the runs of consecutive source offsets copied
    are kept: 16 bytes a run (two arrays of 8-byte integers). An uncompacted range copied whole
    is one run a partition; each gap (compaction, --catalog, an unreadable record) starts one.
    (A record each was kept before: 1.6 GB resident for a copy of 100M records.)"""

    def __init__(self, target_ends: dict[int, int]) -> None:
        self._ends = target_ends  # the target's end offsets before the copy wrote anything
        self._starts: dict[int, array[int]] = {}  # each run's first source offset
        self._firsts: dict[int, array[int]] = {}  # each run's first index in the partition
        self._count: dict[int, int] = {}
        self._last: dict[int, int] = {}  # the source offset last copied
        self._named: dict[int, int] = {}  # the last index a restatement's position relied on
        self._foreign_from: dict[int, int] = {}  # first index acknowledged out of place
        self._first_key: dict[int, bytes | None] = {}

    def sent(self, partition: int, source_offset: int, key: bytes | None) -> int:
        """A record copied (sent, not yet acknowledged); its index in the partition."""
        count = self._count.get(partition, 0)
        if not count:
            self._starts[partition], self._firsts[partition] = array("q"), array("q")
            self._first_key[partition] = key
        if not count or source_offset != self._last[partition] + 1:
            self._starts[partition].append(source_offset)
            self._firsts[partition].append(count)
        self._last[partition] = source_offset
        self._count[partition] = count + 1
        return count

    def delivered(self, partition: int, index: int, target_offset: int) -> None:
        if target_offset != self._ends.get(partition, 0) + index:  # another's before it
            found = self._foreign_from.get(partition, index)
            self._foreign_from[partition] = min(found, index)

    def _at_or_before(self, partition: int, source_offset: int) -> tuple[int, bool] | None:
        """The index `needed` answers, and whether its record is at or before `source_offset`."""
        count = self._count.get(partition, 0)
        if not count:
            return None
        starts, firsts = self._starts[partition], self._firsts[partition]
        run = bisect_right(starts, source_offset) - 1
        if run < 0:
            return 0, False
        run_end = firsts[run + 1] if run + 1 < len(firsts) else count
        return min(firsts[run] + source_offset - starts[run], run_end - 1), True

    def needed(self, partition: int, source_offset: int) -> int | None:
        """The index of the copied record whose target offset says where `source_offset` is on
        the target (None: no copied record is needed)."""
        found = self._at_or_before(partition, source_offset)
        return None if found is None else found[0]

    def foreign_before(self, partition: int, source_offset: int) -> bool:
        """Whether records the copy did not write (another producer's, to the target at the same
        time) landed before the copied record `restated` would name: the copy's own offsets
        there are not consecutive from the target's end. A position there would take them in,
        and one of the item's, newer, would be undone. Its record must be delivered."""
        index = self.needed(partition, source_offset)
        if index is None:
            return False
        return self._foreign_from.get(partition, index + 1) <= index

    def restated(self, partition: int, source_offset: int, key: bytes | None) -> int | None:
        """The target offset a restatement of `key` restating (partition, source_offset) must
        name; None: it is superseded on the target and must not be copied. Its record is not
        copied yet; `foreign_before` must have answered False. Its record need not have been
        acknowledged: it lands at the target's end plus its index (`misnamed` says otherwise)."""
        end = self._ends.get(partition, 0)
        found = self._at_or_before(partition, source_offset)
        if found is None:  # nothing copied of the partition yet: nothing of the item before it
            return max(end - 1, 0)
        index, at_or_before = found
        self._named[partition] = max(self._named.get(partition, 0), index)
        if at_or_before:
            return end + index
        if end >= 1:  # every record copied of the partition is after the restated one
            return end - 1
        return None if self._first_key[partition] == key else 0

    def misnamed(self) -> list[int]:
        """The partitions where a restatement named a position before all of the records it
        relied on were acknowledged, and another producer's landed among them (so it named the
        wrong one); for the copy's end, once every record is acknowledged."""
        return sorted(
            p for p, index in self._named.items() if self._foreign_from.get(p, index + 1) <= index
        )
