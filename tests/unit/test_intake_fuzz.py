"""The receiver's intake under coverage-guided fuzzing (atheris; tests/fuzz/intake_target.py says
what every input must give): the seeds, the inputs kept in tests/fuzz/found/ (each once made the
target fail), then new inputs from a fixed seed, each within libFuzzer's per-input time limit.
`make fuzz` runs the same target for longer and keeps what it finds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from receiver.postback import DATA_POINTS
from tests.fuzz import intake_inputs

ROOT = Path(__file__).resolve().parents[2]
FOUND = ROOT / "tests" / "fuzz" / "found"
RUNS = 20_000


def fuzz(corpus: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.fuzz.intake_target", *options, str(corpus)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )


def test_no_input_reaches_the_server_as_an_unhandled_exception(tmp_path: Path) -> None:
    corpus, dictionary = tmp_path / "corpus", tmp_path / "intake.dict"
    intake_inputs.write(corpus, dictionary, list(DATA_POINTS))
    for kept in sorted(FOUND.glob("[!.]*")):
        shutil.copy(kept, corpus / f"found-{kept.name}")
    run = fuzz(
        corpus,
        f"-runs={RUNS}",
        "-seed=1",
        "-max_len=8192",
        "-timeout=10",  # seconds for one input: linear work takes milliseconds
        "-rss_limit_mb=1024",
        f"-dict={dictionary}",
        f"-artifact_prefix={tmp_path}/",
    )
    found = [
        p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-"))
    ]
    assert not found, (found, run.stderr[-4000:])
    assert run.returncode == 0, run.stderr[-4000:]
    assert f"Done {RUNS} runs" in run.stderr  # (it ran: a target that never started says no such)
