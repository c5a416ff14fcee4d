"""A broker of one test module's own that a test can stop (SIGSTOP: its connections stay open and
nothing answers, as a hung broker) and let go on (SIGCONT); always let go on before it is
stopped, whatever the test did."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

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


def pause(broker: LocalBroker, stopped: bool) -> None:
    assert broker.process is not None
    os.kill(broker.process.pid, signal.SIGSTOP if stopped else signal.SIGCONT)


@contextlib.contextmanager
def paused(broker: LocalBroker) -> Iterator[None]:
    """The broker stopped inside the block, going on again however the block ends."""
    pause(broker, True)
    try:
        yield
    finally:
        pause(broker, False)
