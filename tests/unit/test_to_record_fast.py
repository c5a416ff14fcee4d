"""ProductChange.to_record reads every field in one call and converts only the enum and list
fields: for every event it gives exactly the dict the field-by-field loop gave (kept here as the
reference), so the Avro bytes are the same."""

from __future__ import annotations

import enum
from typing import Any

from hypothesis import given, settings

from catalog_contract import codec
from catalog_contract.events import _FIELD_NAMES, ProductChange
from tests.unit.test_compiled_writer import records


def reference_to_record(change: ProductChange) -> dict[str, Any]:
    """The loop to_record was before (main at 990dbb9)."""
    record: dict[str, Any] = {}
    for name in _FIELD_NAMES:
        value = getattr(change, name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        record[name] = value
    return record


@given(records())
@settings(max_examples=300)
def test_to_record_gives_what_the_field_by_field_loop_gave(record: dict[str, Any]) -> None:
    change = ProductChange.from_record(record)
    expected = reference_to_record(change)
    found = change.to_record()
    assert found == expected
    assert [type(v) for v in found.values()] == [type(v) for v in expected.values()]
    assert list(found) == list(expected)  # the same order too
    assert codec.encode(change) == codec.encode_record(expected)
