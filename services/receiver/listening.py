"""A listening socket of a worker's own on a port several receiver processes share.

`uvicorn --workers N` hands every worker the one socket its parent bound, and uvloop accepts
every pending connection at once: whichever worker wakes first takes a whole burst, and with a
few keep-alive clients (a platform's connection pool, a load balancer) one worker can hold every
connection while the others idle (at 64 connections one held all 64 in `make bench`). With
SO_REUSEPORT each worker listens on a socket of its own and the kernel gives each new connection
to one of them by a hash of its addresses, so connections spread over the workers one by one.
"""

from __future__ import annotations

import socket

BACKLOG = 2048  # uvicorn's own default


def shared_port_socket(host: str, port: int, listen: bool = True) -> socket.socket:
    """A TCP socket bound to (host, port) beside the other workers' (SO_REUSEPORT: only
    processes of the same user can join). `listen=False` only holds the port: a bound socket
    that does not listen is given no connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not listen:
        # SO_REUSEPORT joins any listener of the same user that set it too (another receiver's
        # workers, a stale instance): first bind as uvicorn does, without it, so a port that
        # anything listens on is refused, then hold it for our own workers.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock
