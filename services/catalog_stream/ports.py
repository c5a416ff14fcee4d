"""Loopback ports for the local servers we start (brokers, PostgreSQL, our own services).

A port from `bind(0)` is an *ephemeral* one: between the probe and the server's own bind, the
kernel may hand the same number to any outgoing connection, such as one broker node dialling its
controller. Stop 34's CI lost a three-node failover test to exactly that ("Socket server failed
to bind to 127.0.0.1:57719: Address already in use"). So we hand out ports *below* the kernel's
ephemeral range, which it never gives to an outgoing connection, and never the same one twice in
a process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LINUX_EPHEMERAL = (32768, 60999)
LOWEST = 10_000  # below this live the well-known and registered services
ATTEMPTS = 200

_handed_out: set[int] = set()
_draw = random.SystemRandom()  # from the OS: two processes never draw the same sequence


def ephemeral_range(text: str | None) -> tuple[int, int]:
    """The kernel's ephemeral range from the file's text, Linux's default if unreadable."""
    try:
        low, high = (int(part) for part in (text or "").split())
    except ValueError:
        return LINUX_EPHEMERAL
    return (low, high) if 0 < low <= high <= 65_535 else LINUX_EPHEMERAL


def outside_ephemeral(low: int, high: int) -> range:
    """The larger run of ports at or above LOWEST that the ephemeral range leaves."""
    below, above = range(LOWEST, low), range(high + 1, 65_536)
    return below if len(below) >= len(above) else above


def _read_range() -> tuple[int, int]:
    try:
        return ephemeral_range(EPHEMERAL_RANGE_FILE.read_text())
    except OSError:
        return LINUX_EPHEMERAL


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nobody holds now, outside the ephemeral range, new to this process."""
    pool = outside_ephemeral(*_read_range())
    for _ in range(ATTEMPTS if pool else 0):
        port = _draw.choice(pool)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    with socket.socket() as probe:  # a machine whose whole range is ephemeral: the old way
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on the loopback port now."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0
