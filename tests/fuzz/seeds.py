"""Each fuzzing target's first inputs and dictionary, written where a run starts:
`python -m tests.fuzz.seeds TARGET CORPUS DICTIONARY` (`make fuzz`, tests/unit/test_fuzzing.py).
Kept apart from the targets, which must import the code they fuzz only under instrumentation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from catalog_contract import codec, schemas
from receiver.postback import DATA_POINTS
from tests.factories import change
from tests.fuzz import intake_inputs
from tests.unit.test_generated_reader import SMALL


def _intake(corpus: Path, dictionary: Path) -> None:
    intake_inputs.write(corpus, dictionary, list(DATA_POINTS))


def _decode(corpus: Path, dictionary: Path) -> None:
    full = change(minute=5, price="12.99", name="Mug")
    corpus.mkdir(parents=True, exist_ok=True)
    for version in schemas.all_versions():
        for n, event in enumerate((SMALL, full)):
            value = codec.encode(event, version)
            (corpus / f"seed-{version.fingerprint_bytes.hex()}-{n}").write_bytes(value)
    headers = [codec.MAGIC + v.fingerprint_bytes for v in schemas.all_versions()]
    dictionary.write_text("".join(f'"{_escaped(h)}"\n' for h in headers))


def _escaped(word: bytes) -> str:
    """A dictionary entry's bytes as libFuzzer reads them: \\xNN each."""
    return "".join(f"\\x{b:02x}" for b in word)


TARGETS: dict[str, Callable[[Path, Path], None]] = {"intake": _intake, "decode": _decode}


def main() -> None:
    target, corpus, dictionary = sys.argv[1:]
    TARGETS[target](Path(corpus), Path(dictionary))


if __name__ == "__main__":
    main()
