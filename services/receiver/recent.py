"""A small window of recently acknowledged event ids, so an exact repeat is answered without a
second write. Pure (the caller passes the clock).

Keys are bytes and values should be tuples of atomic values: the garbage collector then stops
tracking the entries, and a full window (tens of thousands) adds nothing to each collection.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentWindow(Generic[T]):
    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[bytes, tuple[float, T]] = OrderedDict()

    def get(self, key: bytes, now: float) -> T | None:
        found = self._entries.get(key)
        if found is None:
            return None
        stored_at, value = found
        if now - stored_at > self._ttl:
            del self._entries[key]
            return None
        return value

    def put(self, key: bytes, value: T, now: float) -> None:
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


# What the window keeps of a product: its last written event id, where it was written
# (partition, offset) and the answer given. Atomic values only (see above).
Written = tuple[bytes, int, int, bytes]


class LastWrites:
    """Per product, the last event this process wrote and its answer. A repeat is answered from
    memory only if it repeats that last event: if anything newer was written for the product
    since (a removal, the item re-added, then the same removal again), the repeat is a real
    change again and must be written."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._window: RecentWindow[Written] = RecentWindow(ttl_s, max_entries)

    def answer_for(self, product: bytes, event_id: bytes, now: float) -> bytes | None:
        found = self._window.get(product, now)
        if found is None or found[0] != event_id:
            return None
        return found[3]

    def written(
        self, product: bytes, event_id: bytes, position: tuple[int, int], answer: bytes, now: float
    ) -> None:
        """Concurrent writes for one product may finish in any order: the topic's order wins."""
        found = self._window.get(product, now)
        if found is not None and (found[1], found[2]) > position:
            return
        self._window.put(product, (event_id, *position, answer), now)

    def failed(self, product: bytes) -> None:
        """A write of the product failed: its record may still land (a write that timed out is
        often acknowledged later), after the last one kept here, so a repeat of that one is no
        longer answered from memory (it is written again, after the failed one)."""
        self._window.discard(product)

    def __len__(self) -> int:
        return len(self._window)
