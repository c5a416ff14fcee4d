"""The record writer as generated Python: one function with each field's lines in order, the
common ["null", "string"] and every union's null branch written inline, calling the per-type
writers (avro_type_writers.py) for the rest. A call per field of the per-type writers cost about
as much as the writing itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog_contract.avro_type_writers import (
    Unsupported,
    Write,
    compile_type,
    write_long,
    write_string,
)

# One field's lines in the generated writer (`value` is the field's value, read by `source`;
# `_w` its writer).
_CALL = """
        _w{i}({source}, out)"""
_OPTIONAL = """
        value = {source}
        if value is None:
            append(0)
        elif type(value) is tuple:
            raise Unsupported
        else:
            append(2)
            _w{i}(value, out)"""
_OPTIONAL_STRING = """
        value = {source}
        if value is None:
            append(0)
        elif type(value) is str:
            encoded = value.encode()
            append(2)
            if len(encoded) < 64:
                append(len(encoded) << 1)
            else:
                _long(len(encoded), out)
            out += encoded
        else:
            raise Unsupported"""


def _field_lines(index: int, source: str, schema: Any) -> tuple[str, Write] | None:
    """The generated lines of one field and the writer they call, or None (type unknown)."""
    if isinstance(schema, list) and len(schema) == 2 and schema[0] == "null":
        inner = compile_type(schema[1])
        if inner is None:
            return None
        code = _OPTIONAL_STRING if inner is write_string else _OPTIONAL
        return code.format(i=index, source=source), inner
    write = compile_type(schema)
    return None if write is None else (_CALL.format(i=index, source=source), write)


def generate(
    schema: Mapping[str, Any],
    sources: list[str],
    namespace: dict[str, Any],
    missing: str,
    first: str = "",
) -> Any:
    """The generated writer: `first`, then each field's lines reading its value by its source;
    `missing` (a field not found) is Unsupported. None when a field's type is not known."""
    lines = [first] if first else []
    namespace = {"Unsupported": Unsupported, "_long": write_long, **namespace}
    for index, field in enumerate(schema.get("fields", ())):
        found = _field_lines(index, sources[index], field["type"])
        if found is None:
            return None
        lines.append(found[0])
        namespace[f"_w{index}"] = found[1]
    source = (
        "def write_record(record):\n"
        "    out = bytearray()\n"
        "    append = out.append\n"
        "    try:" + "".join(lines) + "\n"
        f"    except {missing}:\n"
        "        raise Unsupported from None\n"  # fastavro decides what a missing field means
        "    return bytes(out)\n"
    )
    if len(sources) == 0:
        source = "def write_record(record):\n    return b''\n"
    exec(compile(source, "<compiled_writer>", "exec"), namespace)  # noqa: S102 - our own text
    return namespace["write_record"]
