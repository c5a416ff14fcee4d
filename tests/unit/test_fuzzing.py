"""Coverage-guided fuzzing (atheris, libFuzzer) of each target in tests/fuzz, whose docstring says
what every input must give: `intake` (what the receiver does with a request's bytes) and `decode`
(the contract's decoder on any bytes a topic may hold). Each run starts from the target's seeds
(tests/fuzz/seeds.py) and the inputs kept in tests/fuzz/found/TARGET/ (each once made the target
fail), then tries new inputs from a fixed seed, each within libFuzzer's per-input time and memory
limits. `make fuzz FUZZ_TARGET=...` runs a target for longer and keeps what it finds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.seeds import TARGETS

ROOT = Path(__file__).resolve().parents[2]
FOUND = ROOT / "tests" / "fuzz" / "found"
RUNS = {"intake": 20_000, "decode": 50_000}


def fuzz(target: str, corpus: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"tests.fuzz.{target}_target", *options, str(corpus)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_no_input_breaks_the_target(target: str, tmp_path: Path) -> None:
    corpus, dictionary = tmp_path / "corpus", tmp_path / "words.dict"
    TARGETS[target](corpus, dictionary)
    for kept in sorted((FOUND / target).glob("[!.]*")):
        shutil.copy(kept, corpus / f"found-{kept.name}")
    run = fuzz(
        target,
        corpus,
        f"-runs={RUNS[target]}",
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
    assert (
        f"Done {RUNS[target]} runs" in run.stderr
    )  # (it ran: a target that never started says no such)
