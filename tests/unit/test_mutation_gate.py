"""The mutation gate's own rules: what it counts, and when it fails. No mutmut run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation.gate import Mutant, read_exclusions, report


def mutant(module: str, number: int, caught: bool, change: str = "a => b") -> Mutant:
    status = "killed" if caught else "survived"
    return Mutant(f"{module}.x_f__mutmut_{number}", module, "f", caught, status, change)


def test_the_gate_fails_below_85_percent_in_one_module_even_when_overall_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = [mutant("a", n, True) for n in range(95)]
    weak = [mutant("b", n, n < 8) for n in range(10)]  # 80 %
    assert not report(good + weak, {}, None)
    assert "80.0%  < 85 %" in capsys.readouterr().out
    assert report(good + weak[:8] + weak[9:], {}, None)  # 8 of 9: 88.9 %


def test_the_gate_fails_below_90_percent_overall() -> None:
    mutants = [mutant(m, n, n < 88) for m in ("a", "b") for n in range(100)]
    assert not report(mutants, {}, None)  # 88 % everywhere


def test_an_excluded_survivor_does_not_count_and_is_matched_by_its_change() -> None:
    mutants = [mutant("a", n, True) for n in range(8)] + [
        mutant("a", 8, False, "x < y => x <= y"),
        mutant("a", 9, False, "x => None"),
    ]
    assert not report(mutants, {}, None)
    assert not report(mutants, {"a.f: x => None": "why"}, None)  # 8 of 9
    assert report(mutants, {"a.f: x => None": "why", "a.f: x < y => x <= y": "why"}, None)


def test_an_exclusion_needs_a_reason(tmp_path: Path) -> None:
    listed = tmp_path / "exclusions.txt"
    listed.write_text("# comment\n\na.f: x => y  ## equivalent: because\n")
    assert read_exclusions(listed) == {"a.f: x => y": "equivalent: because"}
    listed.write_text("a.f: x => y\n")
    with pytest.raises(SystemExit, match="needs a reason"):
        read_exclusions(listed)
