"""The object writer: an event written from its attributes (codec.encode), the same bytes as
the compiled record writer gives for its record."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from catalog_contract.generated_writer import generate

ObjectWriter = Callable[[Any], bytes]

_GET = """
        record = _get(record)"""


def compile_object(
    schema: Mapping[str, Any], convert: Mapping[str, Callable[[Any], Any]]
) -> ObjectWriter | None:
    """A writer of objects with an attribute for each of `schema`'s fields, writing what the
    record writer writes for the record `{field: convert[field](value) (or value as it is)}`,
    without that record: its dict cost as much as a third of the writing. An attribute missing
    raises Unsupported (the caller then makes the record)."""
    names = [str(field["name"]) for field in schema.get("fields", ())]
    namespace: dict[str, Any] = {"_get": _getter(names)}
    sources = []
    for index, name in enumerate(names):
        if name in convert:
            namespace[f"_c{index}"] = convert[name]
            sources.append(f"_c{index}(record[{index}])")
        else:
            sources.append(f"record[{index}]")
    writer: ObjectWriter | None = generate(schema, sources, namespace, "AttributeError", _GET)
    return writer


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """Every attribute in one C call, as a tuple (attrgetter gives a lone value bare)."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        get_one = operator.attrgetter(names[0])
        return lambda item: (get_one(item),)
    return operator.attrgetter(*names)
