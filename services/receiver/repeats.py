"""The dead-letter repeat window: an identical refused request (same data, same verdict) that the
platform retries is counted, not written again. Pure (the caller passes the clocks).

Bounded in memory whatever the requests: at most `max_entries` entries, each a 32-byte key and a
tuple of six atomic values (no body, no reason text); an entry leaves `ttl_s` after its record was
written, or oldest first when the window is full. An entry that counted repeats leaves a `Tally`
for the app to write as one small record; tallies not yet written are bounded by `max_entries`
too (beyond that they are dropped and counted, the repeats metric still has them).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

# (written at, monotonic; request id; status; kind; repeats; last repeat at, epoch seconds)
_Entry = tuple[float, str, int, str, int, float]


@dataclass(frozen=True, slots=True)
class Tally:
    """`repeats` identical requests answered as `request_id` was; the last at `last_seen_at`."""

    request_id: str
    status: int
    kind: str
    repeats: int
    last_seen_at: datetime


class RepeatWindow:
    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._closed: list[Tally] = []
        self.dropped_tallies = 0

    @property
    def enabled(self) -> bool:
        return self._ttl > 0 and self._max > 0

    def repeat(self, key: bytes, now: float, wall: float) -> str | None:
        """The request id of the record this request repeats (and count it), or None."""
        self._expire(now)
        found = self._entries.get(key)
        if found is None:
            return None
        written, request_id, status, kind, repeats, _ = found
        self._entries[key] = (written, request_id, status, kind, repeats + 1, wall)
        return request_id

    def add(self, key: bytes, request_id: str, status: int, kind: str, now: float) -> None:
        """A record was written for `key` (call only after Kafka acknowledged it)."""
        if not self.enabled:
            return
        self._expire(now)
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._close(previous)
        self._entries[key] = (now, request_id, status, kind, 0, 0.0)
        while len(self._entries) > self._max:
            self._close(self._entries.popitem(last=False)[1])

    def closed(self, now: float) -> list[Tally]:
        """Tallies of entries that left the window, to be written; each is returned once."""
        self._expire(now)
        tallies, self._closed = self._closed, []
        return tallies

    def take_dropped(self) -> int:
        """Tallies dropped from a full backlog since the last call."""
        dropped, self.dropped_tallies = self.dropped_tallies, 0
        return dropped

    def drain(self) -> list[Tally]:
        """Every tally, open or closed (at shutdown)."""
        for entry in self._entries.values():
            self._close(entry)
        self._entries.clear()
        return self.closed(float("-inf"))

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self, now: float) -> None:
        # Entries are in the order they were written, so the expired ones are at the front.
        while self._entries:
            written = next(iter(self._entries.values()))[0]
            if now - written <= self._ttl:
                return
            self._close(self._entries.popitem(last=False)[1])

    def _close(self, entry: _Entry) -> None:
        _, request_id, status, kind, repeats, last_seen = entry
        if repeats == 0:
            return
        if len(self._closed) >= self._max:
            self.dropped_tallies += 1
            return
        last = datetime.fromtimestamp(last_seen, UTC)
        self._closed.append(Tally(request_id, status, kind, repeats, last))
