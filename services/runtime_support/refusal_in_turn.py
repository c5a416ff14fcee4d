"""Bytes that are not HTTP, on a connection that still owes answers: refused in their turn.

uvicorn's protocol answers bytes its parser refuses with a 400 and closes at once, even while
requests read before them are being served or wait their turn (pipelined). That 400 is then
read as the answer to the first request still owed one (HTTP/1.1 answers come in order), and
the close marks only the newest request disconnected: the one being served went on to write to
a closed transport, and uvicorn logged "Exception in ASGI application" with a traceback (uvloop
refuses a write to a closed handle) for a postback that Kafka had acknowledged.

Here bytes the parser refuses while answers are owed end the reading: the requests read whole
before them are served and answered in turn, each within its own limits as without the bad
bytes, then the 400 goes out in the bad request's place and the connection is closed. However
the connection ends, every request still owed an answer is marked disconnected, not only the
newest: its app's later writes are dropped, as uvicorn drops them for a lone request.

A client's half-close (shutdown(SHUT_WR): its end-of-file, while it still reads) made uvicorn
close at once too: the request being served lost its answer (a postback Kafka acknowledged went
unanswered) and the ones waiting their turn were never served. Here the requests read whole
before the end-of-file are served and answered in turn, then the connection is closed. One that
the end-of-file cut (its body never came whole) is never served: waiting its turn, it is
dropped; being served, it is told it is disconnected, as by uvicorn, and so is an answer of no
set length (a stream) already being sent, or begun after the end-of-file (a stream asked for,
then the half-close, comes to its answer after it: kept, it went on for ever, and for a peer
that closed whole it held its slot until a keep-alive write failed). A peer that closed whole
looks the same here: its answers meet a reset, and the connection is lost (every request still
owed is then marked disconnected; those waiting their turn are never started)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class RefusalInTurnProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the refusal of bad bytes kept in order, and the
    answers owed at a client's half-close sent."""

    _owed: deque[RequestResponseCycle]  # read whole, not yet answered, oldest first
    _refusal: str | None = None  # the 400's text, once bad bytes came while answers were owed
    _ended = False  # the client's end-of-file came while answers were owed: close after them

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._owed = deque()
        super().connection_made(transport)

    @property
    def refusing(self) -> bool:
        """Bad bytes came: nothing more is read, the 400 waits for the answers owed."""
        return self._refusal is not None

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            # Bytes after refused ones are never read; a request served meanwhile resumes
            # reading (to take its body, which it already has): pause again, drop them.
            self.flow.pause_reading()
            return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        newest = self.cycle
        super().on_headers_complete()
        if self.cycle is not newest:  # a request to answer (an upgrade makes none)
            self._answers_owed()  # the answered ones let go: a kept-alive connection serves many
            self._owed.append(self.cycle)
            # Before its app runs (its task has not started): the app is handed this send.
            self.cycle.send = self._cycle_send(self.cycle)  # type: ignore[method-assign,assignment]

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn's data_received when its parser refuses the bytes."""
        newest = self.cycle
        body_cut = newest is not None and newest.more_body and not newest.response_complete
        if body_cut and self.pipeline and self.pipeline[0][0] is newest:
            # Its body can never arrive: it is never served, the 400 is its answer, in turn.
            self.pipeline.popleft()
            self._owed.pop()
            body_cut = False
        owed = self._answers_owed()  # (after which _owed holds the unanswered ones only)
        if body_cut or not owed:
            # Nothing owed before the bad bytes (uvicorn's answer), or the request being served
            # lost its body: it is told it is disconnected (connection_lost). A 400 written
            # into an answer already begun would be read as part of it: close without it.
            if any(cycle.response_started for cycle in self._owed):
                self.transport.close()
            else:
                super().send_400_response(msg)
            return
        self._refusal = msg
        self.flow.pause_reading()
        self.refused()

    def refused(self) -> None:
        """Hook: the 400 now waits for the answers owed (the reading has ended)."""

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio.Protocol's
        """The client sent its last byte (a half-close, or a close). True: the transport stays
        open to write the answers owed (uvloop and asyncio stop reading it). Called again if
        the reading is resumed (uvicorn resumes it after each answer): the same answer."""
        newest = self.cycle
        if newest is not None and newest.more_body and not newest.response_complete:
            # Its body can never come whole.
            if not (self.pipeline and self.pipeline[0][0] is newest):
                return None  # being served: closed, it is told it is disconnected (as uvicorn)
            self.pipeline.popleft()  # waiting its turn: never served, no answer owed
            self._owed.pop()
        if not self._answers_owed():
            return None  # uvicorn's answer: the transport closes
        served = self._owed[0]
        if served.response_started and served.chunked_encoding:
            # An answer of no set length being sent: a stream (the change stream), which ends
            # only when its client leaves. Ended here, as by uvicorn: EventSource never
            # half-closes, and a stream kept for a peer that closed whole held its slot until a
            # write failed (a keep-alive's 15 s, twice).
            return None
        self._ended = True
        self.ended()
        return True

    def ended(self) -> None:
        """Hook: the client's end-of-file came; the answers owed go out, then the close."""

    def _cycle_send(
        self, cycle: RequestResponseCycle
    ) -> Callable[[ASGISendEvent], Coroutine[Any, Any, None]]:
        """`cycle`'s send (the app's), which ends an answer of no set length begun after the
        end-of-file, as eof_received ends one begun before it: its head goes out, then the
        close."""
        send = cycle.send

        async def sending(message: ASGISendEvent) -> None:
            await send(message)
            if self._ended and cycle.chunked_encoding and not cycle.response_complete:
                self.transport.close()  # (connection_lost tells the app it is disconnected)

        return sending

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next request waiting its turn, if any
        if self._answers_owed() or self.transport.is_closing():
            return
        if self._refusal is not None:
            self._unset_keepalive_if_required()  # armed by uvicorn: nothing more is read
            super().send_400_response(self._refusal)
        elif self._ended:
            self._unset_keepalive_if_required()
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for cycle in self._owed:  # uvicorn marks only the newest (self.cycle)
            if not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
        super().connection_lost(exc)

    def _answers_owed(self) -> bool:
        # Answers go out in order: the answered ones are at the front.
        while self._owed and self._owed[0].response_complete:
            answered = self._owed.popleft()
            # Its send (_cycle_send's closures, holding the cycle) made the cycle a reference
            # cycle: each request's ~13 objects were left to the garbage collector, whose young
            # collections they set off. (The app keeps the send it was handed.)
            vars(answered).pop("send", None)
        return bool(self._owed)
