"""A time limit on receiving a request's headers, which uvicorn does not have.

uvicorn waits for a request line and headers with no limit: a client that connects and sends
nothing, or trickles a header line every few seconds (slowloris), holds its connection open
for as long as it likes (its 16 KiB header limit lasts hours at that pace), and enough of them
use up the process's file descriptors. Its keep-alive timeout only covers the wait between two
requests. This protocol closes a connection whose request head is not complete within the
deadline, counted from the connection's start or the request's first byte. (Its bases cut a
client that stopped reading its answer, stalled_readers, write an answer of known length in
one write, one_write, and keep the refusal of bytes that are not HTTP in order with the answers
owed, refusal_in_turn.)"""

from __future__ import annotations

import asyncio

from runtime_support.one_write import OneWriteProtocol
from runtime_support.stalled_readers import StalledReaderProtocol


class HeaderDeadlineProtocol(StalledReaderProtocol, OneWriteProtocol):
    """uvicorn's httptools protocol (its choice when httptools is installed), with the limit."""

    header_timeout_s: float = 15.0
    _header_deadline: asyncio.TimerHandle | None = None
    _head_begun = False  # a request head has begun and is not whole yet

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.get_protocol() is not self:
            return  # upgraded: the connection is the WebSocket protocol's now
        if self.refusing:
            return  # no request head is due: the answers owed, then the 400 and the close
        if self.transport.is_closing():
            return
        if self._head_begun:
            self._arm()  # a request head begun (on_message_begin) and not yet whole
            return
        # Any byte cancels uvicorn's keep-alive timer, yet not every byte starts a request: a
        # blank line before a request line does not, nor the unread body of a request already
        # answered. Bytes arriving while nothing is being served must make a request head in time.
        served = self.cycle is not None and not self.cycle.response_complete
        if not served and self.timeout_keep_alive_task is None:
            self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The next request on a kept-alive connection: armed once these bytes are read, if its
        # head is not whole by then. It mostly is: a timer made and cancelled for each request
        # was 1.5% of an item lookup's samples under py-spy.
        self._head_begun = True

    def on_headers_complete(self) -> None:
        self._head_begun = False
        self._disarm()  # the body has its own limit (the receiver's request timeout)
        super().on_headers_complete()

    def refused(self) -> None:
        self._head_begun = False
        self._disarm()  # the bad bytes may have begun a request head: none is due now

    def ended(self) -> None:
        self._head_begun = False
        self._disarm()  # the client's end-of-file may have cut a request head: none can come

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _expired(self) -> None:
        self._header_deadline = None
        self.transport.close()


def header_deadline(
    timeout_s: float, stalled_reader_timeout_s: float | None = None
) -> type[HeaderDeadlineProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, closing after `timeout_s`, and
    cutting a client that took no byte for `stalled_reader_timeout_s` (None: never)."""
    limits = {"header_timeout_s": timeout_s, "stalled_reader_timeout_s": stalled_reader_timeout_s}
    return type("HeaderDeadline", (HeaderDeadlineProtocol,), limits)
