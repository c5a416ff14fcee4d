"""One socket write per HTTP answer: uvicorn's httptools protocol writes an answer's status line
and headers when the app starts it and the body when the app sends it, two `transport.write`s and
so two `send` syscalls (two TCP segments) per postback under uvloop. Here a request's cycle
writes through `HeadHolder`, which keeps the head back until the cycle's next write and sends the
two joined: the same bytes in the same order, one segment.

Nothing else of uvicorn's changes: the held head goes out before any other byte of the
connection and before it is closed (an app failing after the start, `Connection: close`), and
by the end of the event loop's turn if no body follows in that turn (a streamed answer's head is
not kept waiting for its first chunk). A HEAD answer, whose body uvicorn never writes, is not
held at all."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime_support.header_deadline import HeaderDeadlineProtocol

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"  # what uvicorn's cycle writes for Expect: 100-continue


class HeadHolder:
    """The transport a request's cycle writes through. Before an answer's head the cycle writes
    nothing but, perhaps, `100 Continue` (uvicorn's `receive`, only until the answer starts), so
    the first other write is the head. It knows neither the cycle nor the protocol: a reference
    back would make a cycle of objects for the garbage collector at every request."""

    __slots__ = ("_head", "_holding", "_loop", "_transport")

    def __init__(
        self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, holding: bool
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._holding = holding

    def write(self, data: bytes) -> None:
        if self._holding and data != CONTINUE:
            self._holding = False
            self._head = data
            self._loop.call_soon(self.flush)  # the head of an answer with no body this turn
            return
        head = self._head
        if head is not None:
            self._head = None
            data = head + data
        self._transport.write(data)

    def flush(self) -> None:
        """Send a held head now (a connection already closing lost it as uvicorn's would)."""
        head = self._head
        if head is not None:
            self._head = None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)  # anything else the cycle might ask the transport


class OneWriteProtocol(HeaderDeadlineProtocol):
    """uvicorn's httptools protocol with the request-head time limit (HeaderDeadlineProtocol),
    each request's cycle writing through a HeadHolder."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not before:  # (an upgrade to WebSocket makes no cycle)
            # The cycle's task has not run yet (created, or queued behind a pipelined one).
            # A HEAD answer is not held: uvicorn never writes its body.
            holding = cycle.scope["method"] != "HEAD"
            cycle.transport = HeadHolder(self.transport, self.loop, holding)  # type: ignore[assignment]

    def send_400_response(self, msg: str) -> None:
        # Bad bytes after a request (pipelined) while its streamed answer's head is held: the
        # head first, as uvicorn's would have gone before the 400.
        holder = self.cycle.transport if self.cycle is not None else None
        if isinstance(holder, HeadHolder):
            holder.flush()
        super().send_400_response(msg)


def one_write(header_timeout_s: float) -> type[OneWriteProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, closing a connection whose request
    head takes longer than `header_timeout_s`."""
    return type("OneWrite", (OneWriteProtocol,), {"header_timeout_s": header_timeout_s})
