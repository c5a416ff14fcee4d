"""Workers' listening sockets: several join one port; a port another program holds is refused."""

from __future__ import annotations

import socket

import pytest

from receiver.listening import shared_port_socket


def test_workers_listen_on_one_port_each_on_a_socket_of_its_own() -> None:
    holder = shared_port_socket("127.0.0.1", 0, listen=False)
    port = holder.getsockname()[1]
    first = shared_port_socket("127.0.0.1", port)
    second = shared_port_socket("127.0.0.1", port)
    try:
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # a listener answers; the holder alone would not
    finally:
        for sock in (holder, first, second):
            sock.close()


def test_a_port_a_plain_listener_holds_is_refused() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(OSError, match="in use"):
            shared_port_socket("127.0.0.1", other.getsockname()[1])


def test_a_port_nobody_listens_on_gets_no_connections_from_a_holder() -> None:
    holder = shared_port_socket("127.0.0.1", 0, listen=False)
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", holder.getsockname()[1]), timeout=5)
    finally:
        holder.close()
