"""Coverage-guided fuzzing (atheris, libFuzzer) of the contract's decoder on any bytes a topic may
hold: `codec.decode` gives exactly what fastavro's path gives (the same event, field by field, or
DecodeError with the same reason) and raises nothing else; the reader generated for the value's
writer schema reads that same event or declines. Each input in bounded time and memory
(libFuzzer's `-timeout` and `-rss_limit_mb`: a length prefix of 2**40 must not be allocated).
The comparison is tests/unit/test_generated_reader.py's `assert_agrees`, on inputs the fuzzer
learns. Run by tests/unit/test_fuzzing.py and `make fuzz FUZZ_TARGET=decode`."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["catalog_contract"]):
    from catalog_contract import codec  # noqa: F401 - instrumented before the test imports it

from tests.unit.test_generated_reader import assert_agrees


def test_one_input(value: bytes) -> None:
    assert_agrees(value)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
