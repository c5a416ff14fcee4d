"""A supervisor that is stopping (`make run`, `make broker`) ignores further SIGINT/SIGTERM to its
end: restored after the stop (the broker's old `signals_deferred`), a second SIGTERM landing while
Python exits killed it (-15) instead of letting it exit 0."""

from __future__ import annotations

import subprocess
import sys

STOPPING = """
import os, signal, sys
from catalog_stream.lifetime import ignore_stop_signals
signal.signal(signal.SIGTERM, signal.default_int_handler)  # as the supervisors start
ignore_stop_signals()
os.kill(os.getpid(), signal.SIGTERM)  # an impatient second signal, after the stop
os.kill(os.getpid(), signal.SIGINT)
print("stopped")
"""


def test_signals_after_the_stop_began_do_not_change_how_it_ends() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STOPPING], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "stopped\n", "")


SUPERVISED = """
import os, signal, sys
from catalog_stream.lifetime import interrupt_on_stop_signals, supervise

def stop() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # a second signal while stopping: ignored
    print("stopped")

interrupt_on_stop_signals()
if sys.argv[1] == "signalled":  # a SIGTERM while starting
    print(supervise(lambda: os.kill(os.getpid(), signal.SIGTERM), lambda: True, "lost", stop))
else:  # a child exited
    print(supervise(lambda: None, lambda: False, "a child exited", stop))
"""


def test_a_supervisor_stops_its_children_however_its_life_ends() -> None:
    def supervised(how: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-c", SUPERVISED, how], capture_output=True, text=True, timeout=60
        )
        return done.returncode, done.stdout, done.stderr

    assert supervised("signalled") == (0, "stopped\n0\n", "")
    assert supervised("lost") == (0, "stopped\n1\n", "a child exited\n")
