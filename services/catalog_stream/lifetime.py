"""Child processes that never outlive the process that started them, and stop sequences that a
second signal does not cut short.

A child in its own session (so Ctrl-C in a terminal reaches only us) is not signalled when we
die. Linux can do it for us: `prctl(PR_SET_PDEATHSIG)` in the child, between fork and exec, asks
the kernel to send it a signal when its parent thread exits, however the parent ends (SIGKILL
included). Elsewhere it is a no-op, and the stop sequence below is the only guard.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

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


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Ignore any further stop signal first: one already pending (SIGTERM and SIGINT back to
    # back) would otherwise raise a second KeyboardInterrupt before supervise's `finally`
    # reached ignore_stop_signals, skipping the stop of the children.
    ignore_stop_signals()
    raise KeyboardInterrupt


def interrupt_on_stop_signals() -> None:
    """A supervisor's start: SIGTERM (a service manager, `timeout`, `kill`) stops it as Ctrl-C
    does, with a KeyboardInterrupt, so its children are stopped too instead of left running
    without their parent."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)


def ignore_stop_signals() -> None:
    """From here the process only stops: a second SIGINT/SIGTERM (an impatient Ctrl-C, a
    supervisor repeating itself) is ignored to the end, so it can neither cut the stop of the
    children short (orphaning them) nor, restored after it, land while Python exits: Python's
    exit puts SIGTERM back to its default action, and the process died of it (-15) instead of
    exiting 0. A handler set to ignore stays ignored through that exit."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def wait_while(alive: Callable[[], bool], lost: str) -> int:
    """Supervise: return 1, saying `lost`, once `alive()` is false (a child exited); Ctrl-C or
    SIGTERM (a KeyboardInterrupt) is the caller's to answer."""
    while alive():
        time.sleep(0.5)
    print(lost, file=sys.stderr)
    return 1


def supervise(
    start: Callable[[], None], alive: Callable[[], bool], lost: str, stop: Callable[[], None]
) -> int:
    """A supervisor's life, after `interrupt_on_stop_signals`: `start` its children, then wait
    while `alive()`. Returns 1, saying `lost`, once a child exited; 0 on Ctrl-C or SIGTERM, also
    during `start`. Whichever way it ends, `stop` then runs with further stop signals ignored,
    so a second one cannot cut it short."""
    try:
        start()
        return wait_while(alive, lost)
    except KeyboardInterrupt:
        return 0
    finally:
        ignore_stop_signals()
        stop()


def stop_all(children: list[subprocess.Popen[bytes]], grace_s: float) -> None:
    """SIGTERM every child, then give each up to `grace_s` to finish before SIGKILL."""
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(grace_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
