"""Ports for our local servers: never one the kernel may give an outgoing connection meanwhile."""

from __future__ import annotations

import socket

from catalog_stream.ports import (
    EPHEMERAL_RANGE_FILE,
    LINUX_EPHEMERAL,
    LOWEST,
    ephemeral_range,
    free_port,
    outside_ephemeral,
    port_open,
)


def test_the_range_is_read_from_the_kernels_file_text() -> None:
    assert ephemeral_range("32768\t60999\n") == (32768, 60999)
    assert ephemeral_range("49152 65535") == (49152, 65535)


def test_an_unreadable_or_absurd_range_is_linuxs_default() -> None:
    for text in (None, "", "32768", "a b", "60999 32768", "0 100", "1 70000"):
        assert ephemeral_range(text) == LINUX_EPHEMERAL


def test_the_pool_is_the_larger_run_the_ephemeral_range_leaves() -> None:
    assert outside_ephemeral(32768, 60999) == range(LOWEST, 32768)
    assert outside_ephemeral(10_500, 40_000) == range(40_001, 65_536)
    assert outside_ephemeral(LOWEST, 65_535) == range(0)


def test_free_ports_lie_outside_this_machines_ephemeral_range_and_are_never_repeated() -> None:
    low, high = ephemeral_range(EPHEMERAL_RANGE_FILE.read_text())
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(not low <= port <= high for port in ports), ports


def test_a_free_port_can_be_listened_on_and_is_then_open() -> None:
    port = free_port()
    assert not port_open(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert port_open(port)
