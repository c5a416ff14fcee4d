"""The schema evolution policy: every version is compatible, both ways, with every earlier one
(Avro's "full transitive"), as Apache Avro's own compatibility checker judges it."""

from __future__ import annotations

import json
from collections.abc import Sequence

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from catalog_contract.schemas import SchemaVersion


def _parse(version: SchemaVersion) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(version.definition))


def incompatibilities(versions: Sequence[SchemaVersion]) -> list[str]:
    """One line per pair that fails, e.g. "v2 cannot read data written with v1: ..."."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    parsed = [(v, _parse(v)) for v in versions]
    problems = []
    for index, (newer, newer_schema) in enumerate(parsed):
        for older, older_schema in parsed[:index]:
            for reader, reader_schema, writer, writer_schema in (
                (newer, newer_schema, older, older_schema),  # backward
                (older, older_schema, newer, newer_schema),  # forward
            ):
                result = checker.get_compatibility(reader_schema, writer_schema)
                if result.compatibility is not SchemaCompatibilityType.compatible:
                    problems.append(
                        f"v{reader.version} cannot read data written with v{writer.version}: "
                        f"{'; '.join(sorted(result.messages))}"
                    )
    return problems
