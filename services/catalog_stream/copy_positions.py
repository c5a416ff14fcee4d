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

NOT_YET = -1  # a copied record's target offset before Kafka acknowledged it


class CopiedPositions:
    """Per partition, the source and target offset of each record copied, in order (two arrays
    of 8-byte integers: 16 bytes a record copied)."""

    def __init__(self, target_ends: dict[int, int]) -> None:
        self._ends = target_ends  # the target's end offsets before the copy wrote anything
        self._source: dict[int, array[int]] = {}
        self._target: dict[int, array[int]] = {}
        self._first_key: dict[int, bytes | None] = {}

    def sent(self, partition: int, source_offset: int, key: bytes | None) -> int:
        """A record copied (sent, not yet acknowledged); its index in the partition."""
        source = self._source.get(partition)
        if source is None:
            source = self._source[partition] = array("q")
            self._target[partition] = array("q")
            self._first_key[partition] = key
        source.append(source_offset)
        self._target[partition].append(NOT_YET)
        return len(source) - 1

    def delivered(self, partition: int, index: int, target_offset: int) -> None:
        self._target[partition][index] = target_offset

    def needed(self, partition: int, source_offset: int) -> int | None:
        """The index of the copied record whose target offset says where `source_offset` is on
        the target (None: no copied record is needed)."""
        source = self._source.get(partition)
        if not source:
            return None
        return max(bisect_right(source, source_offset) - 1, 0)

    def waiting(self, partition: int, source_offset: int) -> int | None:
        """`needed`'s index while its target offset is not known yet, else None."""
        index = self.needed(partition, source_offset)
        if index is None or self._target[partition][index] != NOT_YET:
            return None
        return index

    def foreign_before(self, partition: int, source_offset: int) -> bool:
        """Whether records the copy did not write (another producer's, to the target at the same
        time) landed before the copied record `restated` would name: the copy's own offsets
        there are not consecutive from the target's end. A position there would take them in,
        and one of the item's, newer, would be undone. Its record must be delivered."""
        index = self.needed(partition, source_offset)
        if index is None:
            return False
        return self._target[partition][index] != self._ends.get(partition, 0) + index

    def restated(self, partition: int, source_offset: int, key: bytes | None) -> int | None:
        """The target offset a restatement of `key` restating (partition, source_offset) must
        name; None: it is superseded on the target and must not be copied. Its record is not
        copied yet; `waiting` must have answered None."""
        index = self.needed(partition, source_offset)
        if index is None:  # nothing copied of the partition yet: nothing of the item before it
            return max(self._ends.get(partition, 0) - 1, 0)
        target = self._target[partition]
        assert target[index] != NOT_YET, "restated before the record it needs was delivered"
        if self._source[partition][index] <= source_offset:
            return target[index]
        if target[0] >= 1:  # every record copied of the partition is after the restated one
            return target[0] - 1
        return None if self._first_key[partition] == key else 0
