"""A set of keys in a fixed amount of memory that answers "never added" or "maybe added" (a Bloom
filter, two bits a key): what a rebuild's part (rebuild_part_store.py) knows of the keys it wrote,
so that it reads back only those it may hold. Never a wrong "never added": a bit once set stays
set. Past a few million keys nearly every answer is "maybe", which costs a read back, as before
it; the memory stays the same whatever the number of keys. Pure.

A filter costs a hash of every key asked and of every key written, and spares only the reads of
keys it answers "never added": where keys keep coming back (a topic of many versions per key, as
`make bench`'s) it spares almost none. `PayingKeyFilter` judges that as it goes and steps aside
for good once it does not pay (`worth_keeping`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

BITS_LOG2 = 24  # 2 MiB: 0.3% of answers wrongly "maybe" at 500,000 keys, 6% at 2,000,000
# Keys asked per judgement: a few batches (a rebuild's are 1,000 records), so that a filter that
# does not pay costs a few milliseconds, and enough that a batch's keys do not decide it alone.
WINDOW = 20_000
# What a key costs, in nanoseconds of one core (measured on parts' files of 50,000 and 200,000
# items, 1,000 keys a batch; BENCHMARKS.md, round fourteen): hashing it to ask the filter,
# hashing it to add it once written (rebuild_part_store.py adds a key new to the part, not one
# that had an item row before its batch), and the read back a "never added" spares (a primary-key
# probe that finds nothing, in a batch's query). A key both asked and added costs about what it
# spares: a filter of items must spare nearly all of its keys to pay, one of removal markers
# (few added) about half.
ASK_NS = 400
ADD_NS = 400
SPARED_NS = 850


class KeyFilter:
    def __init__(self, bits_log2: int = BITS_LOG2) -> None:
        if bits_log2 not in range(3, 33):  # two indexes from one 64-bit hash (see `add`)
            raise ValueError(f"bits_log2 must be 3 to 32, not {bits_log2}")
        self._mask = (1 << bits_log2) - 1
        self._bits = bytearray(1 << (bits_log2 - 3))
        self.count = 0  # keys added; none: every answer is "never added", nothing hashed

    @property
    def nbytes(self) -> int:
        """The memory its bits take, whatever the number of keys."""
        return len(self._bits)

    def add(self, keys: Iterable[Hashable]) -> int:
        """Adds `keys`; returns how many there were."""
        bits, mask = self._bits, self._mask
        added = 0
        for key in keys:
            h = hash(key)
            first, second = h & mask, (h >> 32) & mask
            bits[first >> 3] |= 1 << (first & 7)
            bits[second >> 3] |= 1 << (second & 7)
            added += 1
        self.count += added
        return added

    def maybe_added(self, keys: Iterable[K]) -> list[K]:
        """The keys among `keys` that may have been added (all that were, maybe a few more)."""
        if self.count <= 0:
            return []
        bits, mask = self._bits, self._mask
        found = []
        for key in keys:
            h = hash(key)
            first, second = h & mask, (h >> 32) & mask
            if bits[first >> 3] >> (first & 7) & 1 and bits[second >> 3] >> (second & 7) & 1:
                found.append(key)
        return found


def worth_keeping(asked: int, spared: int, added: int) -> bool:
    """Whether a filter that answered "never added" for `spared` of `asked` keys, and had
    `added` keys added, spared more than it cost (ASK_NS, ADD_NS, SPARED_NS)."""
    return spared * SPARED_NS >= asked * ASK_NS + added * ADD_NS


class PayingKeyFilter:
    """A KeyFilter that judges itself every `window` keys asked (`worth_keeping`, on what that
    window asked and added alone) and, the first time it does not pay, steps aside for good:
    from then on every key is "maybe added" (read back, as without a filter), nothing is hashed,
    and its bits are let go. It never comes back: it would have missed the keys added since.

    `add` and `maybe_added` may run on two threads (a part writes one batch while it plans the
    next): stepping aside is one assignment, and an `add` still under way into the bits let go
    changes no answer. A count lost between the threads changes when it steps aside, never an
    answer."""

    def __init__(self, bits_log2: int = BITS_LOG2, window: int = WINDOW) -> None:
        self._keys: KeyFilter | None = KeyFilter(bits_log2)
        self._window = window
        self._asked = self._spared = self._added = 0  # in the window under way

    @property
    def on(self) -> bool:
        return self._keys is not None

    def add(self, keys: Iterable[Hashable]) -> None:
        if (filter_ := self._keys) is not None:  # (aside: `keys` is not even iterated)
            self._added += filter_.add(keys)

    def maybe_added(self, keys: list[K]) -> list[K]:
        """The keys among `keys` that may have been added: all of them (`keys` itself) once
        the filter stepped aside."""
        if (filter_ := self._keys) is None:
            return keys
        found = filter_.maybe_added(keys)
        self._asked += len(keys)
        self._spared += len(keys) - len(found)
        if self._asked >= self._window:
            if not worth_keeping(self._asked, self._spared, self._added):
                self._keys = None
            self._asked = self._spared = self._added = 0
        return found
