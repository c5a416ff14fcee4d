"""Child processes that never outlive the process that started them, and stop sequences that a
second signal does not cut short.

A child in its own session (so Ctrl-C in a terminal reaches only us) is not signalled when we
die. Linux can do it for us: `prctl(PR_SET_PDEATHSIG)` in the child, between fork and exec, asks
the kernel to send it a signal when its parent thread exits, however the parent ends (SIGKILL
included). Elsewhere it is a no-op, and the stop sequence below is the only guard.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen`: the child gets `sig` when this process exits.

    Strictly, when the thread that started it exits: start long-lived children from the main
    thread (not `asyncio.to_thread`), or they stop with the worker thread.
    """
    parent = os.getpid()

    def arrange() -> None:  # runs in the child, after fork, before exec
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return arrange


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """While stopping children, a second SIGINT/SIGTERM (an impatient Ctrl-C, a supervisor
    repeating itself) is ignored instead of interrupting the stop halfway and orphaning them."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
