"""The mutation gate (`make mutation`): mutmut over the pure core, with the unit tests.

mutmut names a module after its file's path and knows the `src/` layout, not `services/`; so the
gate runs it in `.mutation/`, a view of the repository where `src` links to `services` (and
`tests`, `schemas`, `bench`, `deploy`, ... link to theirs): `src/receiver/values.py` is
then the module `receiver.values`, as the tests import it. What to mutate and which tests to run
is in pyproject.toml, `[tool.mutmut]`.

A surviving mutant fails the gate's scores unless `exclusions.txt` lists it with the reason it
does not change behaviour. The gate fails below MIN_OVERALL percent of all mutants caught, or
below MIN_PER_MODULE percent for any one module.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.examples import MUTATION_RUN

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / ".mutation"
# what the stage shows: name -> what it links to in the repository
LINKS = {"src": "services"} | {
    n: n for n in ("tests", "schemas", "pyproject.toml", "README.md", "bench", "deploy")
}
EXCLUSIONS = Path(__file__).with_name("exclusions.txt")
MIN_OVERALL = 90.0
MIN_PER_MODULE = 85.0

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code): what counts as caught.
# A mutant that makes the tests loop (timeout) or crash the test process is noticed too.
CAUGHT = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", 37: "caught by type check", -11: "crashed", -9: "crashed"}  # fmt: skip
NOT_CAUGHT = {0: "survived", 5: "no tests", 33: "no tests"}


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str  # e.g. receiver.values.x_price__mutmut_3
    module: str  # receiver.values
    function: str  # price
    caught: bool
    status: str
    change: str  # "old line => new line", from mutmut's diff ("" when it could not tell)

    @property
    def signature(self) -> str:
        return f"{self.module}.{self.function}: {self.change}"


def prepare_stage(fresh: bool) -> None:
    STAGE.mkdir(exist_ok=True)
    for name, target in LINKS.items():
        link = STAGE / name
        if not link.is_symlink():
            link.symlink_to(Path("..") / target)
    if fresh:
        shutil.rmtree(STAGE / "mutants", ignore_errors=True)


def run_mutmut(max_children: int, log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as out:
        mutmut = str(Path(sys.executable).with_name("mutmut"))
        done = subprocess.run(
            [mutmut, "run", "--max-children", str(max_children)],
            cwd=STAGE, stdout=out, stderr=subprocess.STDOUT, check=False,
            env={**os.environ, MUTATION_RUN: "1"},  # tests.examples: fewer generated examples
        )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"mutmut failed (exit {done.returncode}); its output is in {log}")
    return time.monotonic() - started


def _function_of(name: str, module: str) -> str:
    mangled = name.removeprefix(module + ".").partition("__mutmut_")[0]
    return mangled.split("ǁ")[-1] if "ǁ" in mangled else mangled.removeprefix("x_")


def _change(diff: str) -> str:
    """A unified diff of one function as `old line(s) => new line(s)`."""
    lines = [line for line in diff.splitlines() if not line.startswith(("---", "+++"))]
    removed = [line[1:].strip() for line in lines if line.startswith("-")]
    added = [line[1:].strip() for line in lines if line.startswith("+")]
    return f"{' / '.join(removed)} => {' / '.join(added)}"


def collect() -> list[Mutant]:
    """Every mutant of the last run, read from mutmut's result files in the stage."""
    os.chdir(STAGE)  # mutmut reads its configuration from the working directory
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    found = []
    for meta in sorted(Path("mutants/src").rglob("*.py.meta")):
        source = meta.with_suffix("")
        module = ".".join(source.relative_to("mutants/src").with_suffix("").parts)
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        path = Path("src") / source.relative_to("mutants/src")
        for name, code in sorted(codes.items(), key=lambda item: _natural(item[0])):
            function = _function_of(name, module)
            if code in CAUGHT:
                found.append(Mutant(name, module, function, True, CAUGHT[code], ""))
                continue
            status = NOT_CAUGHT.get(code, f"exit code {code}") if code is not None else "not run"
            change = _change(get_diff_for_mutant(name, path=path))
            found.append(Mutant(name, module, function, False, status, change))
    os.chdir(ROOT)
    return found


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def read_exclusions(path: Path) -> dict[str, str]:
    """`module.function: old => new  ## reason`, one a line; `#` lines are comments."""
    exclusions = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        signature, sep, reason = line.partition("  ## ")
        if not sep or not reason.strip():
            sys.exit(f"{path}:{number}: an exclusion needs a reason after '  ## '")
        exclusions[signature.strip()] = reason.strip()
    return exclusions


def score(mutants: list[Mutant], excluded: set[str]) -> tuple[int, int, int]:
    """(caught, counted, excluded): excluded mutants do not change behaviour, so do not count."""
    skipped = sum(1 for m in mutants if not m.caught and m.signature in excluded)
    return sum(1 for m in mutants if m.caught), len(mutants) - skipped, skipped


def report(mutants: list[Mutant], exclusions: dict[str, str], seconds: float | None) -> bool:
    excluded = set(exclusions)
    modules = sorted({m.module for m in mutants})
    passed = True
    print(f"{'module':34} {'mutants':>7} {'caught':>6} {'excluded':>8} {'score':>7}")
    for module in modules:
        caught, counted, skipped = score([m for m in mutants if m.module == module], excluded)
        percent = 100.0 * caught / counted if counted else 100.0
        flag = "" if percent >= MIN_PER_MODULE else f"  < {MIN_PER_MODULE:.0f} %"
        passed &= not flag
        print(f"{module:34} {counted + skipped:7} {caught:6} {skipped:8} {percent:6.1f}%{flag}")
    caught, counted, skipped = score(mutants, excluded)
    overall = 100.0 * caught / counted if counted else 100.0
    flag = "" if overall >= MIN_OVERALL else f"  < {MIN_OVERALL:.0f} %"
    passed &= not flag
    print(f"{'overall':34} {counted + skipped:7} {caught:6} {skipped:8} {overall:6.1f}%{flag}")
    missed = [m for m in mutants if not m.caught and m.signature not in excluded]
    if missed:
        print(f"\n{len(missed)} mutants no test noticed (mutmut show NAME, in .mutation/):")
        for m in missed:
            print(f"  {m.name} [{m.status}]\n      {m.signature}")
    used = {m.signature for m in mutants if not m.caught}
    unused = [signature for signature in exclusions if signature not in used]
    if unused:
        print(f"\n{len(unused)} exclusions match no surviving mutant (remove them):")
        for signature in unused:
            print(f"  {signature}")
    counts = Counter(m.status for m in mutants)
    print("\n" + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if seconds is not None:
        print(f"mutmut ran in {seconds:.0f} s")
    print("PASSED" if passed else "FAILED")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--report-only", action="store_true", help="score the last run again")
    parser.add_argument("--keep", action="store_true", help="reuse mutmut's cached results")
    args = parser.parse_args()
    prepare_stage(fresh=not (args.report_only or args.keep))
    seconds = None
    if not args.report_only:
        seconds = run_mutmut(args.max_children, STAGE / "mutmut.log")
    passed = report(collect(), read_exclusions(EXCLUSIONS), seconds)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
