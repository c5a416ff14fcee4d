"""A lean HTTP/1.1 keep-alive client for load generation at 1,000+ requests/s from Python.

httpx costs more CPU per request than the servers under test (measured here: ~2.5 ms against
~65 µs for this), so a generator built on it measures itself. This one writes a request line
and headers, reads a response with a Content-Length, and keeps the connection: enough for our
own servers (uvicorn always sends Content-Length), not a general client.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any


class HttpError(RuntimeError):
    """The server answered in a way this client does not read, or the connection failed."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# uvicorn closes a connection idle for 5 s (--timeout-keep-alive); one idle longer than this is
# not reused, so a request never goes out on a connection the server is closing.
MAX_IDLE_S = 2.0


class Pool:
    """Up to `size` keep-alive connections to one server; a request waits for a free one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[_Connection, float]] = []  # with when each was last used
        self._slots = asyncio.Semaphore(size)

    async def request(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Length: {len(body)}\r\n"
        raw = head.encode("latin-1") + b"\r\n" + body
        async with self._slots:
            reader, writer = await self._connection()
            try:
                writer.write(raw)
                answer, keep = await _read(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                writer.close()
                raise HttpError(f"{method} {target}: {exc!r}") from exc
            if keep:
                self._idle.append(((reader, writer), time.monotonic()))
            else:
                writer.close()
            return answer

    async def _connection(self) -> _Connection:
        while self._idle:
            (reader, writer), used = self._idle.pop()
            if time.monotonic() - used < MAX_IDLE_S and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        for (_, writer), _ in self._idle:
            writer.close()
        self._idle.clear()


async def _read(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "content-length" not in fields:
        raise ValueError(f"no Content-Length in the answer ({lines[0]})")
    body = await reader.readexactly(int(fields["content-length"]))
    return Answer(status, body), fields.get("connection", "").lower() != "close"
