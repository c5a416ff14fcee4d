"""A reader of one writer schema's values as generated Python: one function reading each field
in order straight into the event's fields (no record dict, no schema walk, no BytesIO), with
one-byte lengths, union branches and enum symbols read inline. fastavro's per-call set-up, its
record dict and its logical readers (timestamp-micros, uuid, decimal) were most of decoding a
value, which was ~40% of a split-rebuild worker's CPU (issue #11).

It gives exactly the event fastavro's read (resolved to the reader schema) and `from_record`
give, for the values it reads: anything else (a varint fastavro reads its own way, an unknown
union branch or enum symbol, a decimal that rounds, a body cut short) raises, and the caller
reads that value with fastavro, which reads or refuses it as it always did. A schema pair it
cannot read this way (a type not listed here, a field resolved to another type or a default
other than null) generates None. tests/unit/test_generated_reader.py holds it to fastavro.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from catalog_contract import avro_type_readers as readers
from catalog_contract.bounded_decimals import MAX_DECIMAL_BYTES

Reader = Callable[[bytes], Any]

_LENGTH = """{i}n = size1[data[pos]]
{i}if n < 0:
{i}    n, pos = read_size(data, pos)
{i}else:
{i}    pos += 1
{i}end = pos + n
"""


@dataclass(frozen=True, slots=True)
class _Field:
    """How the event takes one field's value: an enum's symbols as their members (None: as
    text; a symbol with no member is not read this way), an array as a tuple or as a list."""

    enum: Mapping[str, Any] | None
    as_tuple: bool


class _Source:
    """The generated function's lines, and the constants they name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}
        self.count = 0

    def name(self, value: Any) -> str:
        self.count += 1
        key = f"c{self.count}"
        self.names[key] = value
        return key

    def local(self) -> str:
        self.count += 1
        return f"v{self.count}"


def _read(schema: Any, target: str, indent: str, out: _Source, field: _Field) -> bool:
    """Lines reading one value of `schema` into the local `target`; False for an unknown type."""
    add = out.lines.append
    kind = schema.get("type") if isinstance(schema, dict) else schema
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if isinstance(schema, list):
        if not schema:
            return False
        add(f"{indent}b = data[pos]\n{indent}pos += 1\n")
        for index, branch in enumerate(schema):
            add(f"{indent}{'if' if index == 0 else 'elif'} b == {2 * index}:\n")
            if branch == "null":
                add(f"{indent}    {target} = None\n")
            elif not _read(branch, target, indent + "    ", out, field):
                return False
        add(f"{indent}else:\n{indent}    raise Declined\n")
    elif kind == "string" and logical in (None, "uuid"):
        text = "data[pos:end].decode()"
        value = text if logical is None else f"uuid_of({text})"
        add(_LENGTH.format(i=indent) + f"{indent}{target} = {value}\n{indent}pos = end\n")
    elif kind == "bytes" and logical == "decimal":
        decimal = readers.decimal_reader(schema.get("precision", 0), schema.get("scale", 0))
        if decimal is None:
            return False
        unscaled = "from_bytes(data[pos:end], 'big', signed=True)"
        add(_LENGTH.format(i=indent))
        # Longer ones are refused by fastavro's path (bounded_decimals), not read here.
        add(f"{indent}if n > {MAX_DECIMAL_BYTES}:\n{indent}    raise Declined\n")
        add(f"{indent}{target} = {out.name(decimal)}({unscaled})\n")
        add(f"{indent}pos = end\n")
    elif kind == "long" and logical == "timestamp-micros":
        add(f"{indent}n, pos = read_long(data, pos)\n")
        add(f"{indent}{target} = epoch + timedelta(0, 0, n)\n")  # avro_type_readers.EPOCH
    elif kind == "int" and logical is None:
        add(f"{indent}{target}, pos = read_int(data, pos)\n")
    elif kind == "enum" and logical is None:
        symbols = schema["symbols"]
        members = {2 * i: s for i, s in enumerate(symbols)}
        if field.enum is not None:
            if not set(symbols) <= field.enum.keys():
                return False  # from_record raises for it
            members = {at: field.enum[s] for at, s in members.items()}
        add(f"{indent}{target} = {out.name(members)}[data[pos]]\n{indent}pos += 1\n")
    elif kind == "array" and logical is None:
        items, item = out.local(), out.local()
        add(f"{indent}{items} = []\n{indent}while True:\n")
        add(f"{indent}    n = data[pos]\n{indent}    if n == 0:\n")
        add(f"{indent}        pos += 1\n{indent}        break\n")
        add(f"{indent}    n, pos = read_size(data, pos)\n{indent}    for _ in range(n):\n")
        if not _read(schema["items"], item, indent + "        ", out, field):
            return False
        whole = f"tuple({items})" if field.as_tuple else items
        add(f"{indent}        {items}.append({item})\n{indent}{target} = {whole}\n")
    else:
        return False
    return True


def generate(
    writer: Mapping[str, Any],
    reader: Mapping[str, Any],
    targets: Sequence[str],
    enums: Mapping[str, Mapping[str, Any]],
    tuples: Collection[str],
    build: Callable[..., Any],
) -> Reader | None:
    """A function reading a value (its 10-byte header first) written with `writer`, as fastavro
    resolves it to `reader`, into `build(*values of targets)`: a target neither field has is
    None. `enums` maps a field to the object each of its symbols reads as; an array field in
    `tuples` reads as a tuple. None: not a pair read this way."""
    reader_fields = {field["name"]: field for field in reader.get("fields", ())}
    written = {field["name"] for field in writer.get("fields", ())}
    for name, field in reader_fields.items():
        if name not in written and field.get("default", ...) is not None:
            return None  # fastavro gives the reader's default, or refuses every value
    out = _Source()
    local: dict[str, str] = {}
    for field in writer.get("fields", ()):
        name = field["name"]
        known = reader_fields.get(name)
        if known is not None and known["type"] != field["type"]:
            return None  # fastavro would resolve it to another type
        target = "_"  # read past: the reader does not know it, or the event does not take it
        if known is not None and name in targets:
            target = local[name] = out.local()
        how = _Field(enums.get(name), name in tuples)
        if not _read(field["type"], target, "    ", out, how):
            return None
    arguments = ", ".join(local.get(name, "None") for name in targets)
    source = (
        "def read(data):\n    pos = 10\n"
        + "".join(out.lines)
        + f"    if pos > len(data):\n        raise Declined\n    return build({arguments})\n"
    )
    scope: dict[str, Any] = {
        **out.names,
        "build": build,
        "Declined": readers.Declined,
        "size1": readers.ONE_BYTE_SIZE,
        "read_size": readers.read_size,
        "read_long": readers.read_long,
        "read_int": readers.read_int,
        "epoch": readers.EPOCH,
        "timedelta": timedelta,
        "uuid_of": readers.uuid_of,
        "from_bytes": int.from_bytes,
    }
    exec(compile(source, "<generated_reader>", "exec"), scope)  # noqa: S102 - our own text
    read: Reader = scope["read"]
    return read
