"""A set of keys in a fixed amount of memory that answers "never added" or "maybe added" (a Bloom
filter, two bits a key): what a rebuild's part (rebuild_part_store.py) knows of the keys it wrote,
so that it reads back only those it may hold. Never a wrong "never added": a bit once set stays
set. Past a few million keys nearly every answer is "maybe", which costs a read back, as before
it; the memory stays the same whatever the number of keys. Pure."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

BITS_LOG2 = 24  # 2 MiB: 0.3% of answers wrongly "maybe" at 500,000 keys, 6% at 2,000,000


class KeyFilter:
    def __init__(self, bits_log2: int = BITS_LOG2) -> None:
        if not 3 <= bits_log2 <= 32:  # two indexes from one 64-bit hash (see _indexes)
            raise ValueError(f"bits_log2 must be 3 to 32, not {bits_log2}")
        self._mask = (1 << bits_log2) - 1
        self._bits = bytearray(1 << (bits_log2 - 3))
        self.empty = True  # nothing added: every answer is "never added"

    def add(self, keys: Iterable[Hashable]) -> None:
        bits, mask = self._bits, self._mask
        for key in keys:
            self.empty = False
            h = hash(key)
            first, second = h & mask, (h >> 32) & mask
            bits[first >> 3] |= 1 << (first & 7)
            bits[second >> 3] |= 1 << (second & 7)

    def maybe_added(self, keys: Iterable[K]) -> list[K]:
        """The keys among `keys` that may have been added (all that were, maybe a few more)."""
        if self.empty:
            return []
        bits, mask = self._bits, self._mask
        found = []
        for key in keys:
            h = hash(key)
            first, second = h & mask, (h >> 32) & mask
            if bits[first >> 3] >> (first & 7) & 1 and bits[second >> 3] >> (second & 7) & 1:
                found.append(key)
        return found
