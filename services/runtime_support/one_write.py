"""An answer of known length goes out in one write: its head joined to its body.

uvicorn writes an answer's status line and headers to the transport as soon as the app sends
`http.response.start`, and its body at `http.response.body`: two writes, each a send(2) at
once (uvloop writes straight to the socket while nothing waits in its buffer), two loopback or
network packets, and two wake-ups of the client. For the projector's item lookups, the two
writes were a quarter of the server's CPU (py-spy, 32 connections, wrk: the head's 17%, the
body's 7%). Here the head of an answer whose length is set (`content-length`) is held until
uvicorn writes its body, and both go out in one write.

Only those: an answer of no set length (chunked: the change stream) has its head written at
once, as a stream's client waits for it before any event; so has a HEAD's, which has no body
write to join (uvicorn writes nothing for it). A close of the transport (uvicorn's after an
answer that ends the connection, or after an app failing between head and body) writes a head
still held before closing, so the client reads what it read before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from runtime_support.refusal_in_turn import RefusalInTurnProtocol


class HeldHead:
    """A request's transport (as its cycle sees it): while `holding`, a write is kept, and
    the next write or close sends it first, in the same write."""

    __slots__ = ("head", "holding", "transport")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.holding = False  # the answer's head is being written: keep it
        self.head = b""

    def write(self, data: bytes) -> None:
        if self.holding:
            self.head += data
        elif self.head:
            head, self.head = self.head, b""
            self.transport.write(head + data)
        else:
            self.transport.write(data)

    def flush(self) -> None:
        if self.head:
            head, self.head = self.head, b""
            self.transport.write(head)

    def close(self) -> None:
        if not self.transport.is_closing():
            self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info ...: the transport's
        return getattr(self.transport, name)


class OneWriteProtocol(RefusalInTurnProtocol):
    """uvicorn's httptools protocol (with the refusal of bad bytes in turn), writing an answer
    of known length in one write."""

    def _cycle_send(
        self, cycle: RequestResponseCycle
    ) -> Callable[[ASGISendEvent], Coroutine[Any, Any, None]]:
        send = super()._cycle_send(cycle)
        if cycle.scope["method"] == "HEAD":  # no body write to join
            return send
        held = HeldHead(cycle.transport)
        cycle.transport = held  # type: ignore[assignment]

        async def sending(message: ASGISendEvent) -> None:
            if message["type"] != "http.response.start":
                await send(message)  # the body's write sends a head held with it
                return
            held.holding = True
            try:
                await send(message)
            finally:
                held.holding = False
            # uvicorn has read the headers: a set length means a body write follows.
            if cycle.chunked_encoding is not False:
                held.flush()

        return sending
