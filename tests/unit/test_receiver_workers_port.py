"""`catalog-stream receiver` with CATALOG_RECEIVER_WORKERS above 1 must refuse a port another
program already listens on (README; receiver_workers: "a port something else listens on fails
here, once"), as the one-worker path (uvicorn's own bind) does. The occupant most likely to be
there is another receiver started with workers (a second start by a service manager, a stale
instance): its sockets carry SO_REUSEPORT, so a bind that also sets SO_REUSEPORT joins it
instead of failing, and the kernel then splits the platform's connections between the two
deployments (which may have other secrets, topics or versions)."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator

import pytest

from catalog_stream import receiver_workers
from catalog_stream.ports import free_port
from receiver.settings import ReceiverSettings

_REAL_POPEN = subprocess.Popen


class _Spawned(Exception):
    pass


@pytest.fixture
def no_workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """No process is started: a Popen call is recorded and stops run_workers at once. The
    signal handlers run_workers sets are put back afterwards."""
    spawned: list[object] = []

    def popen(*args: object, **kwargs: object) -> object:
        spawned.append(args)
        raise _Spawned

    monkeypatch.setattr("subprocess.Popen", popen)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield spawned
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _listening(reuse_port: bool) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("reuse_port", [False, True], ids=["plain", "another-receivers-workers"])
def test_a_port_another_program_listens_on_is_refused_before_any_worker_starts(
    no_workers: list[object], reuse_port: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with _listening(reuse_port) as occupant:
        port = occupant.getsockname()[1]
        settings = ReceiverSettings(dev_mode=True, host="127.0.0.1", port=port, workers=2)
        try:
            code = receiver_workers.run_workers(settings)
        except _Spawned:
            code = None
    assert no_workers == [], "workers were started on a port another program listens on"
    assert code == 1
    assert f"cannot use 127.0.0.1:{port}" in capsys.readouterr().err


def test_a_stop_signal_while_workers_start_stops_those_already_started(
    monkeypatch: pytest.MonkeyPatch, no_workers: list[object]
) -> None:
    """SIGTERM (a KeyboardInterrupt here) can land between two worker starts: the workers
    already started must be stopped and waited for, not left to the parent-death signal after
    the launcher has already exited 0 (a service manager would start the next instance while
    they still serve)."""
    real_popen = _REAL_POPEN
    started: list[subprocess.Popen[bytes]] = []

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        if started:
            raise KeyboardInterrupt  # the stop signal, as the second worker starts
        started.append(real_popen(["sleep", "30"]))
        return started[0]

    monkeypatch.setattr("subprocess.Popen", popen)
    settings = ReceiverSettings(dev_mode=True, host="127.0.0.1", port=free_port(), workers=2)
    try:
        assert receiver_workers.run_workers(settings) == 0
        assert started[0].poll() is not None, "a started worker outlived its stopped launcher"
    finally:
        started[0].kill()
        started[0].wait()
