"""An Avro binary writer compiled once from one record schema: a list of per-field writers, so
writing a record is one pass with no schema walk and no union search. fastavro searches every
union branch for the best match on each write, which made encoding the receiver's single largest
cost per postback (~65 µs of its ~70; this does it in a fraction).

It writes exactly fastavro's bytes (tests/unit/test_compiled_writer.py compares them over
generated events), for the value types the contract's records hold (avro_type_writers.py). Any
other value (a naive datetime, a float, a NaN...) raises `Unsupported`, and the caller writes
that record with fastavro, which accepts or refuses it as it always did. A schema using a type
not listed there compiles to None.

The entry points are here (codec.py calls them); the per-type writers, the generated function
and the object writer are in the modules named for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from catalog_contract.avro_type_writers import Unsupported
from catalog_contract.generated_writer import generate
from catalog_contract.object_writer import ObjectWriter, compile_object

__all__ = ["ObjectWriter", "RecordWriter", "Unsupported", "compile_object", "compile_record"]

RecordWriter = Callable[[Mapping[str, Any]], bytes]


def compile_record(schema: Mapping[str, Any]) -> RecordWriter | None:
    """A writer of `schema`'s records (raising Unsupported for values it leaves to fastavro),
    or None when the schema has a type it does not know (generated_writer.py). Field names are
    written as Python literals (repr), so any name is only ever a string."""
    names = [str(field["name"]) for field in schema.get("fields", ())]
    writer: RecordWriter | None = generate(
        schema, [f"record[{name!r}]" for name in names], {}, "KeyError"
    )
    return writer
