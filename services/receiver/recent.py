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

    def __len__(self) -> int:
        return len(self._entries)
