"""The packages' import graph, read from the source (every import statement, also those under
TYPE_CHECKING or inside functions): the ops package starts the services, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
PACKAGES = {"catalog_contract", "runtime_support", "receiver", "projector", "catalog_stream"}

# Which of our packages each package may import (itself always).
ALLOWED = {
    "runtime_support": set[str](),
    "catalog_contract": set[str](),
    "receiver": {"catalog_contract", "runtime_support"},
    "projector": {"catalog_contract", "runtime_support"},
    "catalog_stream": {"catalog_contract", "runtime_support", "receiver", "projector"},
}


def imported_packages(package: str) -> dict[str, set[str]]:
    """Each of our packages `package` imports, with the modules that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((SERVICES / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue  # relative imports stay inside the package
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGES and top != package:
                    found.setdefault(top, set()).add(path.relative_to(SERVICES).as_posix())
    return found


def test_every_package_is_listed() -> None:
    on_disk = {p.parent.name for p in SERVICES.glob("*/__init__.py")}
    assert on_disk == PACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    forbidden = {
        other: modules
        for other, modules in imported_packages(package).items()
        if other not in ALLOWED[package]
    }
    assert forbidden == {}


def test_the_walk_sees_imports() -> None:
    """The check above can fail: the ops package's own imports are found."""
    assert {"receiver", "projector", "catalog_contract"} <= set(imported_packages("catalog_stream"))
