"""How many TCP segments carrying data reached a client's socket: what a test of "one socket
write per answer" can observe on the wire, without capturing packets (Linux's tcp_info)."""

from __future__ import annotations

import socket
import struct
from typing import Protocol

_DATA_SEGS_IN = 152  # offset of tcpi_data_segs_in in struct tcp_info (linux/tcp.h, since 4.6)


class _Socket(Protocol):  # a socket.socket, or asyncio's TransportSocket around one
    def getsockopt(self, level: int, option: int, size: int) -> bytes: ...


def data_segments_in(sock: _Socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 160)
    count: int = struct.unpack_from("I", info, _DATA_SEGS_IN)[0]
    return count
