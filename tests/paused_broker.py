"""A broker of one test module's own that a test can stop (SIGSTOP: its connections stay open and
nothing answers, as a hung broker) and let go on (SIGCONT); always let go on before it is
stopped, whatever the test did."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog_stream.broker import LocalBroker
from tests.conftest import start_local_broker


@contextlib.contextmanager
def own_broker(data_dir: Path) -> Iterator[LocalBroker]:
    started = start_local_broker(data_dir)
    try:
        yield started
    finally:
        if started.process is not None:  # (None: a test killed it)
            os.kill(started.process.pid, signal.SIGCONT)
        started.stop()


def module_broker(directory: str) -> object:
    """A test module's fixture `broker` (own_broker, its data in a new temporary directory named
    after `directory`) for its tests. In the module: `broker = module_broker("kafka-x")`."""

    @pytest.fixture(scope="module")
    def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
        with own_broker(tmp_path_factory.mktemp(directory)) as started:
            yield started

    return broker


def pause(broker: LocalBroker, stopped: bool) -> None:
    """Stopped: returns once every thread of the JVM is seen stopped (so what a test does next
    happens with the broker stopped, a fact rather than a hope); none runs user code after the
    signal, but a loaded machine shows them stopped only a few ms later."""
    assert broker.process is not None
    os.kill(broker.process.pid, signal.SIGSTOP if stopped else signal.SIGCONT)
    if stopped:
        deadline = time.monotonic() + 10
        while not all_threads_stopped(broker.process.pid):
            assert time.monotonic() < deadline, "the broker's threads did not stop in 10 s"
            time.sleep(0.001)


def all_threads_stopped(pid: int) -> bool:
    """Every thread of process `pid` in the stopped state (Linux's /proc; elsewhere: True)."""
    if not sys.platform.startswith("linux"):
        return True
    states = []
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):  # (a thread that just ended)
            stat = (Path("/proc") / str(pid) / "task" / thread / "stat").read_text()
            states.append(stat[stat.rindex(")") + 2])
    return all(state in "Tt" for state in states)


@contextlib.contextmanager
def paused(broker: LocalBroker) -> Iterator[None]:
    """The broker stopped inside the block, going on again however the block ends."""
    pause(broker, True)
    try:
        yield
    finally:
        pause(broker, False)
