"""Identical postbacks in flight at once share one write (a single flight).

The repeat window (`recent.LastWrites`) answers a repeat once its first write was acknowledged;
until then every copy was written too: 60 identical postbacks arriving together were 60 records
of one event. Here, per product, the write this process began last and has not finished is
kept; a postback with the same content id (the same event) while it is in flight waits for its
outcome instead of writing: the answer of its acknowledgement (the same bytes the window would
give), or, if it failed, the reason, for the caller to refuse the waiting postbacks as the
first one was (503: nothing of theirs was written, so nothing may be answered 200).

Only the product's last begun write is joined: once a different event of the product began, a
repeat of the earlier one is a newer change again and is written. The same holds for the repeat
window: while a write of the product is in flight, its outcome (and place on the topic) is not
known, so the window may not answer for the product (`last`), and only the last begun write,
once ended, says what the window keeps (`end`'s result). No I/O; the waits are futures of the
running loop.
"""

from __future__ import annotations

import asyncio


class Flight:
    """One write in flight: its event id, and the futures of the postbacks awaiting it."""

    __slots__ = ("event_id", "waiting")

    def __init__(self, event_id: bytes) -> None:
        self.event_id = event_id
        self.waiting: list[asyncio.Future[bytes | str]] | None = None  # (none, usually)

    async def outcome(self) -> bytes | str:
        """The answer of the write (bytes), or why it failed (text)."""
        waited: asyncio.Future[bytes | str] = asyncio.get_running_loop().create_future()
        if self.waiting is None:
            self.waiting = []
        self.waiting.append(waited)
        return await waited


class InFlight:
    """Per product, its last begun write until it ends."""

    __slots__ = ("_flights",)

    def __init__(self) -> None:
        self._flights: dict[bytes, Flight] = {}

    def last(self, product: bytes) -> Flight | None:
        """The product's last begun write, while it is in flight."""
        return self._flights.get(product)

    def begin(self, product: bytes, event_id: bytes) -> Flight:
        flight = self._flights[product] = Flight(event_id)
        return flight

    def end(self, product: bytes, flight: Flight, outcome: bytes | str) -> bool:
        """The write ended: its answer (bytes) or why it failed (text) to every postback that
        waits for it. Called exactly once per `begin`, however the write ended. True if it was
        the product's last begun write: nothing of the product is begun after it, so its
        outcome is the product's latest (a write begun earlier is before it on the topic)."""
        last = self._flights.get(product) is flight
        if last:
            del self._flights[product]
        if flight.waiting is not None:
            for waited in flight.waiting:
                if not waited.done():  # (a waiting postback cancelled meanwhile)
                    waited.set_result(outcome)
        return last

    def __len__(self) -> int:
        return len(self._flights)
