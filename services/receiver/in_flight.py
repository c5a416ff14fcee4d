"""Identical postbacks in flight at once share one write (a single flight).

The repeat window (`recent.LastWrites`) answers a repeat once its first write was acknowledged;
until then every copy was written too: 60 identical postbacks arriving together were 60 records
of one event. Here, per product, the write this process began last and has not finished is
kept; a postback with the same content id (the same event) while it is in flight waits for its
outcome instead of writing: the answer of its acknowledgement (the same bytes the window would
give), or, if it failed, the reason, for the caller to refuse the waiting postbacks as the
first one was (503: nothing of theirs was written, so nothing may be answered 200).

Only the product's last begun write is joined: once a different event of the product began, a
repeat of the earlier one is a newer change again and is written, as the window decides by the
topic's order (LastWrites). No I/O; the waits are futures of the running loop.
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

    def joinable(self, product: bytes, event_id: bytes) -> Flight | None:
        """The write of this same event, if it is the product's last begun and in flight."""
        flight = self._flights.get(product)
        if flight is not None and flight.event_id == event_id:
            return flight
        return None

    def begin(self, product: bytes, event_id: bytes) -> Flight:
        flight = self._flights[product] = Flight(event_id)
        return flight

    def end(self, product: bytes, flight: Flight, outcome: bytes | str) -> None:
        """The write ended: its answer (bytes) or why it failed (text) to every postback that
        waits for it. Called exactly once per `begin`, however the write ended."""
        if self._flights.get(product) is flight:
            del self._flights[product]
        if flight.waiting is not None:
            for waited in flight.waiting:
                if not waited.done():  # (a waiting postback cancelled meanwhile)
                    waited.set_result(outcome)

    def __len__(self) -> int:
        return len(self._flights)
