"""The workers' launcher and stop signals back to back (an impatient Ctrl-C and a service
manager's SIGTERM, or `kill -TERM` and `kill -INT` back to back): lifetime.py and the README say
"a second Ctrl-C or SIGTERM does not cut the stop short". Here the second one lands before the
`finally` has ignored it: a KeyboardInterrupt escapes, the launcher dies of it (130) without
stopping or waiting for its workers, which the parent-death signal stops later, unwaited for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from catalog_stream.ports import free_port

# run_workers, each worker a shell that takes 1 s to stop on SIGTERM (a receiver answering
# what it accepted), started exactly as receiver_workers starts its workers.
LAUNCHER = """
import subprocess, sys
from catalog_stream import receiver_workers
from receiver.settings import ReceiverSettings
real = subprocess.Popen
def worker(command, **kwargs):
    script = "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done"
    return real(["sh", "-c", script], **kwargs)
subprocess.Popen = worker
sys.exit(receiver_workers.run_workers(
    ReceiverSettings(dev_mode=True, host="127.0.0.1", port=int(sys.argv[1]), workers=2)))
"""


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_two_stop_signals_at_once_still_stop_and_wait_for_every_worker(tmp_path: Path) -> None:
    script = tmp_path / "launcher.py"
    script.write_text(LAUNCHER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    launcher = subprocess.Popen(
        [sys.executable, str(script), str(free_port())], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while len(_children(launcher.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        time.sleep(0.3)  # the launcher is in its supervision loop
        workers = _children(launcher.pid)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM, signal.SIGINT):
            os.kill(launcher.pid, sig)
        code = launcher.wait(30)
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        assert (code, alive) == (0, [])
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
