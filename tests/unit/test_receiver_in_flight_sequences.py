"""receiver.in_flight against a model, over any sequence of writes begun, joined, cancelled
and ended (successes and failures in any order): the table holds exactly the products whose
last begun write has not ended (nothing is kept after cancellations or failures), `end` says
whether the write was its product's last begun, and every waiting postback that was not
cancelled gets its own write's outcome, none is left waiting once all ended."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.in_flight import Flight, InFlight

PRODUCTS = [b"p", b"q"]
EVENTS = [b"e1", b"e2"]


@dataclass
class Op:
    kind: str  # begin, join, cancel, end
    product: int
    event: int
    pick: int  # which open write / which waiter
    fails: bool


ops = st.lists(
    st.builds(
        Op,
        kind=st.sampled_from(["begin", "join", "cancel", "end", "end"]),
        product=st.integers(0, 1),
        event=st.integers(0, 1),
        pick=st.integers(0, 7),
        fails=st.booleans(),
    ),
    max_size=40,
)


async def _run(sequence: list[Op]) -> None:
    flights = InFlight()
    open_writes: list[tuple[bytes, Flight]] = []
    last: dict[bytes, Flight] = {}  # the model: each product's last begun write
    ended: dict[int, bytes | str] = {}  # id(flight) -> its outcome
    waiters: list[tuple[Flight, asyncio.Task[bytes | str]]] = []
    for op in sequence:
        product = PRODUCTS[op.product]
        if op.kind == "begin":
            flight = flights.begin(product, EVENTS[op.event])
            open_writes.append((product, flight))
            last[product] = flight
        elif op.kind == "join":
            current = flights.last(product)
            assert current is last.get(product)
            if current is not None:
                waiters.append((current, asyncio.create_task(current.outcome())))
        elif op.kind == "cancel" and waiters:
            waiters[op.pick % len(waiters)][1].cancel()
        elif op.kind == "end" and open_writes:
            product, flight = open_writes.pop(op.pick % len(open_writes))
            outcome: bytes | str = "failed" if op.fails else b"answer-%d" % id(flight)
            was_last = last.get(product) is flight
            assert flights.end(product, flight, outcome) is was_last
            if was_last:
                del last[product]
            ended[id(flight)] = outcome
        await asyncio.sleep(0)
        assert len(flights) == len(last)
        for name, flight in last.items():
            assert flights.last(name) is flight
    for product, flight in open_writes:
        flights.end(product, flight, "stopped")
        ended[id(flight)] = "stopped"
    await asyncio.sleep(0)
    assert len(flights) == 0
    for flight, waiter in waiters:
        assert waiter.done()
        if not waiter.cancelled():
            assert waiter.result() == ended[id(flight)]


@settings(max_examples=300, deadline=None)
@given(ops)
def test_the_table_follows_the_model_and_keeps_nothing_once_writes_ended(
    sequence: list[Op],
) -> None:
    asyncio.run(_run(sequence))
