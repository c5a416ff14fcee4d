"""The Avro schemas of the contract's topics, loaded from the repository's `schemas/` folder.

Every `<family>.vN.avsc` file there is one version of a value schema: `product_change` for the
product topic, `dead_letter` for the dead-letter topic. Writers use a family's newest version;
readers resolve the writer's version from the fingerprint in each value's header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from catalog_contract.errors import ContractError

PRODUCT_CHANGE = "product_change"
DEAD_LETTER = "dead_letter"
_VERSIONED_NAME = re.compile(r"^([a-z_]+)\.v(\d+)\.avsc$")


def _crc64_table() -> list[int]:
    empty = 0xC15D213AA4D7A795  # the Avro specification's EMPTY fingerprint
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    return table


_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO ("Rabin") fingerprint, exactly as the Avro specification defines it."""
    fp = 0xC15D213AA4D7A795
    for byte in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ byte) & 0xFF]
    return fp


@dataclass(frozen=True)
class SchemaVersion:
    version: int
    path: Path
    definition: dict[str, Any]
    parsed: Any  # fastavro's parsed schema
    canonical_form: str
    fingerprint: int
    family: str = PRODUCT_CHANGE

    @property
    def fingerprint_bytes(self) -> bytes:
        """The 8 bytes written after `C3 01`: the fingerprint, little-endian."""
        return self.fingerprint.to_bytes(8, "little")


def schema_dir() -> Path:
    """`schemas/` at the repository root (or packaged beside this module in a wheel)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parents[1] / "schemas"):
        if candidate.is_dir():
            return candidate
    raise ContractError(f"no schemas/ folder next to {here} or at the repository root")


def load_version(path: Path, version: int, family: str = PRODUCT_CHANGE) -> SchemaVersion:
    definition = json.loads(path.read_text(encoding="utf-8"))
    canonical = to_parsing_canonical_form(definition)
    return SchemaVersion(
        version=version,
        path=path,
        definition=definition,
        parsed=fastavro.parse_schema(definition),
        canonical_form=canonical,
        fingerprint=crc64_avro(canonical.encode("utf-8")),
        family=family,
    )


def all_versions(family: str = PRODUCT_CHANGE) -> tuple[SchemaVersion, ...]:
    """Every schema version of `family` in `schemas/`, oldest first (loaded once)."""
    return _load(family).versions


@dataclass(frozen=True)
class _Family:
    versions: tuple[SchemaVersion, ...]
    by_fingerprint: Mapping[int, SchemaVersion]


@cache
def _load(family: str) -> _Family:
    """The family's versions, read from `schemas/` once: a file added while the process runs
    is not seen (by `all_versions` nor by `by_fingerprint`, made from the same read)."""
    versions = []
    for path in schema_dir().glob("*.avsc"):
        match = _VERSIONED_NAME.match(path.name)
        if match and match.group(1) == family:
            versions.append(load_version(path, int(match.group(2)), family))
    if not versions:
        raise ContractError(f"no {family}.vN.avsc in {schema_dir()}")
    ordered = tuple(sorted(versions, key=lambda v: v.version))
    return _Family(ordered, MappingProxyType({v.fingerprint: v for v in ordered}))


def current(family: str = PRODUCT_CHANGE) -> SchemaVersion:
    """The schema new values are written with: the family's highest version."""
    return all_versions(family)[-1]


def by_fingerprint(family: str = PRODUCT_CHANGE) -> Mapping[int, SchemaVersion]:
    """Every schema version of `family` by its fingerprint: made once, with the versions (a
    reader looks its writer up here for every value). Read-only: it is every caller's."""
    return _load(family).by_fingerprint
