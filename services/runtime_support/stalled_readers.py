"""A time limit on a client that has stopped reading its answer, which uvicorn does not have.

uvicorn's flow control makes an answer's next send wait while the connection's write buffer is
full (past asyncio's high-water mark, the kernel's buffers full before it), and waits for as
long as the client does not read: for ever, for one that never will. A change stream (SSE)
then held its slot of the few allowed, its connection and the bytes buffered for it; a whole
answer too large for the buffers held its connection and bytes the same way (closing a
transport waits to send what it holds). This protocol cuts (resets: what is buffered is
dropped) a connection whose client has taken no byte for the time limit while its buffer is
full: the app's send returns, the app is told its client has gone, and a stream ends.

What it cannot see: a client that does not read a stream with nothing to send it (a
keep-alive each 15 s takes weeks to fill the buffers) holds its slot like an idle reader."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import sys
import termios

from runtime_support.refusal_in_turn import RefusalInTurnProtocol

log = logging.getLogger(__name__)


class StalledReaderProtocol(RefusalInTurnProtocol):
    """uvicorn's httptools protocol (with its refusals in turn), with the limit; None: none."""

    stalled_reader_timeout_s: float | None = None
    _stall_look: asyncio.TimerHandle | None = None
    _buffered_at_look = 0

    def pause_writing(self) -> None:
        super().pause_writing()
        self._look_later()

    def resume_writing(self) -> None:
        self._stop_looking()
        super().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_looking()
        super().connection_lost(exc)

    def _look_later(self) -> None:
        if self.stalled_reader_timeout_s is not None and self._stall_look is None:
            self._buffered_at_look = self._untaken()
            self._stall_look = self.loop.call_later(self.stalled_reader_timeout_s, self._look)

    def _stop_looking(self) -> None:
        if self._stall_look is not None:
            self._stall_look.cancel()
            self._stall_look = None

    def _untaken(self) -> int:
        """Bytes sent the client has not taken: asyncio's buffer and the kernel's send queue
        (Linux's SIOCOUTQ, unsent or unacknowledged). asyncio's alone moves only once the kernel
        has freed a third of its queue, megabytes: a client reading slowly looked stalled."""
        untaken = self.transport.get_write_buffer_size()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # not Linux, or a socket already gone
                queue = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(4))
                untaken += int.from_bytes(queue, sys.byteorder, signed=True)
        return untaken

    def _look(self) -> None:
        self._stall_look = None
        # A client reading slowly takes bytes without the buffer falling below the low-water
        # mark (which resumes writing): it is not stalled, only slow.
        if self._untaken() < self._buffered_at_look:
            self._look_later()
            return
        log.info(
            "cut a connection whose client took no byte for %.0f s, %d bytes buffered for it",
            self.stalled_reader_timeout_s, self._buffered_at_look,
        )  # fmt: skip
        # A reset, not a close: a closed socket's kernel would go on offering the client the
        # megabytes it holds for it (until its own give-up, minutes later); aborting the
        # transport drops only asyncio's bytes.
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
