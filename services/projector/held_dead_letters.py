"""A rebuild's builder's dead letters, held until the switch rather than written as it reads.

The builder keeps what no live consumer kept: records past the active generation's positions.
But a live consumer still running reads those records too, later (a rebuild asked while the
views catch up, or a builder near the head under load), and dead-letters them itself: written
by both, each was twice on the topic. Held here instead, they are written at the switch, where
the live consumers have stopped: only those at or past where they stopped (`due_past`), each
once. A rebuild that fails or dies before that writes none; the live consumer, going on from
its positions, writes them all. Records the live consumers pass meanwhile are let go (`passed`),
so memory follows how far the builder is ahead of them; past HOLD_LIMIT records or HOLD_BYTES
they are written at once (twice again, maybe, but never held without bound)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from projector.dead_letter_writer import DeadLetterWriter
from projector.records import Unreadable
from projector.restatements_owed import at_or_past

log = logging.getLogger(__name__)
HOLD_LIMIT = 10_000
# And past this many bytes: each is held whole (its raw key, value and headers), and a record
# may be as large as the topic allows (1 MB by default): 10,000 of them were 10 GB.
HOLD_BYTES = 64 * 2**20


class HeldDeadLetters:
    def __init__(
        self, writer: DeadLetterWriter, limit: int = HOLD_LIMIT, limit_bytes: int = HOLD_BYTES
    ) -> None:
        self._writer = writer
        self._limit = limit
        self._limit_bytes = limit_bytes
        # By where each is: a batch read again (its write failed, it is retried from the
        # stored positions) holds its records again, and they were written twice.
        self._held: dict[tuple[int, int], Unreadable] = {}

    @property
    def held(self) -> Sequence[Unreadable]:
        return tuple(self._held.values())

    async def hold(self, unreadable: Sequence[Unreadable]) -> None:
        self._held.update(((u.partition, u.offset), u) for u in unreadable)
        size = sum(_size(u) for u in self._held.values())
        if len(self._held) > self._limit or size > self._limit_bytes:
            log.warning(
                "the rebuild is far ahead of the live consumer: its dead letters written now",
                extra={"records": len(self._held), "bytes": size},
            )
            await self.due_past({})

    def passed(self, positions: Mapping[int, int]) -> None:
        """Let go of those below `positions`: a live consumer read past them (and kept them)."""
        self._held = {at: u for at, u in self._held.items() if at_or_past(u, positions)}

    async def due_past(self, positions: Mapping[int, int]) -> None:
        """Write those at or past `positions`, where the live consumers stopped; let go of all."""
        due = [u for u in self._held.values() if at_or_past(u, positions)]
        await self._writer.write(due)  # (raises DeadLetterUnavailable: the switch fails)
        self._held = {}


def _size(bad: Unreadable) -> int:
    headers = sum(len(name) + len(value or b"") for name, value in bad.headers)
    return len(bad.key or b"") + len(bad.value or b"") + headers
