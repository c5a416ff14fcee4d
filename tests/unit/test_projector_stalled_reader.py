"""attack33: a client of the change stream that stops reading. A real HTTP server (the
projector's own protocol) and a real socket whose reader never reads.

Failed before: nothing bounded the wait. Once the socket buffers between the two filled, the
stream's next send waited for the client to read (uvicorn's flow control) for ever: the stream
held its slot (of CATALOG_PROJECTOR_STREAM_MAX), its connection and the bytes buffered for it
(a close would have waited to send them, also for ever). Now the connection is cut once the
client has taken no byte for CATALOG_PROJECTOR_STALLED_READER_TIMEOUT_S while its buffer is
full, and the stream gives its slot back; a client reading, however slowly, is not cut."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import eventually
from tests.unit.test_projector_read_api import served, settings_for

# 213 bytes an event: about 6 MB, past what the kernel's buffers take on loopback (under 4 MB
# with the reader's receive buffer at its least) and the server's own 64 KiB.
ITEMS = 30_000


async def _stream_slot_free(client: httpx.AsyncClient) -> bool:
    """With one slot: a HEAD of the stream (answered at once) is a 200, not the 503 of a full
    house."""
    return (await client.head("/v1/changes/stream")).status_code == 200


def _stalled_reader(url: str) -> socket.socket:
    """A connection that asks for the stream and never reads a byte of it."""
    where = urlsplit(url)
    assert where.hostname is not None
    assert where.port is not None
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    reader.connect((where.hostname, where.port))
    reader.sendall(b"GET /v1/changes/stream HTTP/1.1\r\nHost: projector\r\n\r\n")
    return reader


@pytest.mark.timeout(120)
async def test_a_change_stream_whose_reader_stopped_reading_is_cut_off(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "views.db", stream_max=1, stalled_reader_timeout_s=1)
    names = {("42", f"sku-{n}"): "thing" for n in range(ITEMS)}
    async with (
        served(settings, names) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        reader = _stalled_reader(url)
        try:
            await eventually(lambda: _slot_taken(client), timeout_s=10)
            await eventually(lambda: _stream_slot_free(client), timeout_s=60)
            with pytest.raises(ConnectionResetError):  # cut (aborted), not ended
                await asyncio.to_thread(_read_to_the_end, reader)
        finally:
            reader.close()


@pytest.mark.timeout(120)
async def test_a_slow_reader_is_not_cut_off_until_it_stops(tmp_path: Path) -> None:
    """4 KiB each 0.1 s, far below what the stream would send: the buffers stay full, yet the
    client takes bytes within every limit (3 s), for 10 s; then it stops, and is cut."""
    settings = settings_for(tmp_path / "views.db", stream_max=1, stalled_reader_timeout_s=3)
    names = {("42", f"sku-{n}"): "thing" for n in range(ITEMS)}
    async with (
        served(settings, names) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        reader = _stalled_reader(url)
        try:
            await asyncio.to_thread(_read_slowly, reader, 10.0)  # raises if cut meanwhile
            await eventually(lambda: _stream_slot_free(client), timeout_s=60)
            with pytest.raises(ConnectionResetError):
                await asyncio.to_thread(_read_to_the_end, reader)
        finally:
            reader.close()


def _read_slowly(reader: socket.socket, seconds: float) -> None:
    reader.settimeout(10)
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        assert reader.recv(4096), "the stream ended"
        time.sleep(0.1)


def _read_to_the_end(reader: socket.socket) -> None:
    reader.settimeout(10)
    while reader.recv(1 << 20):
        pass


async def _slot_taken(client: httpx.AsyncClient) -> bool:
    return not await _stream_slot_free(client)
