"""One socket write per small response, where uvicorn makes two.

uvicorn's httptools protocol writes a response's head as soon as the app sends
`http.response.start`, and the body with the next message: two `send` syscalls on the socket
per postback (strace under load: 2.0 writes per request), and the first wakes the client for a
head it cannot use yet. `OneWriteHttpToolsProtocol` gives each connection's request cycles a
transport that holds a response head back until the next write (then both leave as one) or,
if the app sends nothing more in this step of the loop, until the loop's next turn. Every write
of the connection goes through it, so bytes leave in the order they were written; reading,
flow control and everything else reach the socket's own transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_STATUS_LINE = b"HTTP/1.1 "
_HEAD_END = b"\r\n\r\n"


class HeadHeld:
    """A transport that holds back a response head (one write that starts with a status line
    and ends the header block) until the next write or the loop's next turn."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(_STATUS_LINE) and data.endswith(_HEAD_END):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through `HeadHeld` (uvicorn is pinned in
    requirements.lock; tests/unit/test_receiver_response_writes.py checks the bytes on the wire
    and the writes per response against a real server)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = HeadHeld(transport, self.loop)  # type: ignore[assignment]
