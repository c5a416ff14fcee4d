"""How many examples a generated test runs: its full count in `make test`, a smaller one under
the mutation gate, which runs the unit tests once for each of hundreds of mutants."""

from __future__ import annotations

import os

MUTATION_RUN = "CATALOG_MUTATION_RUN"  # set by tests/mutation/gate.py for mutmut's test runs


def examples(full: int, under_mutation: int) -> int:
    """`full`, or `under_mutation` in the mutation gate's runs."""
    return under_mutation if os.environ.get(MUTATION_RUN) else full
