"""Decoding product change values, step by step and old against new, in one process: CPU µs per
record (time.process_time over all values, the best of interleaved rounds), on the values
bench.projector_bench.preload writes (and the same events written with schema v1).

    PYTHONPATH=services:. .venv/bin/python -m bench.decode_ab --values 20000 --rounds 7

old = ProductChange.from_record(codec.decode_record(value)): fastavro's read, with its logical
readers, then the event built from the record (the path before issue #11's generated reader).
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro

from bench.projector_bench import realistic_event
from catalog_contract import codec, headers, keys, reader, schemas
from catalog_contract.avro_type_readers import EPOCH, decimal_reader, uuid_of
from catalog_contract.events import ProductChange
from projector.records import read_record


def _strip(schema: Any) -> Any:
    """The schema with its logical types removed (their plain Avro types kept)."""
    if isinstance(schema, list):
        return [_strip(branch) for branch in schema]
    if isinstance(schema, dict):
        if "logicalType" in schema:
            return schema["type"]
        return {k: _strip(v) for k, v in schema.items()}
    return schema


def old_decode(value: bytes) -> ProductChange:
    return ProductChange.from_record(codec.decode_record(value))


def _per_record(step: Callable[[Any], object], inputs: list[Any]) -> float:
    started = time.process_time()
    for one in inputs:
        step(one)
    return (time.process_time() - started) / len(inputs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--values", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    base = datetime(2026, 11, 1, tzinfo=UTC)
    events = [realistic_event(n, n % 2, base) for n in range(args.values)]
    v1, v2 = schemas.all_versions()
    values = [codec.encode(event) for event in events]
    old_values = [codec.encode(event, v1) for event in events]
    for value, old_value in zip(values, old_values, strict=True):
        assert codec.decode(value) == old_decode(value)
        assert codec.decode(old_value) == old_decode(old_value)
    bodies = [value[codec.HEADER_SIZE :] for value in values]
    records = [codec.decode_record(value) for value in values]
    plain = fastavro.parse_schema(_strip(v2.definition))
    key_texts = [keys.product_key(e.catalog_id, e.catalog_item_id) for e in events]
    kafka = [
        (k, v, headers.for_change(e)) for k, v, e in zip(key_texts, values, events, strict=True)
    ]
    micros = [int((e.received_at - codec_epoch()) / timedelta(microseconds=1)) for e in events]
    texts = [str(e.event_id) for e in events]
    unscaled = [int(e.current_price.scaleb(4)) for e in events if e.current_price is not None]
    prices = [u.to_bytes(8, "big", signed=True) for u in unscaled]
    price = decimal_reader(18, 4)
    assert price is not None
    logical: Any = fastavro._logical_readers  # the C readers fastavro's schemaless_reader calls
    price_schema = {"scale": 4, "precision": 18}

    def fastavro_read(body: bytes, schema: Any = v2.parsed) -> object:
        return fastavro.schemaless_reader(io.BytesIO(body), schema, None)

    steps: dict[str, tuple[Callable[[Any], object], list[Any]]] = {
        "key parse": (keys.parse_key, key_texts),
        "fastavro read (BytesIO, v2)": (fastavro_read, bodies),
        "fastavro read, logical types stripped": (lambda b: fastavro_read(b, plain), bodies),
        "fastavro timestamp-micros": (lambda n: logical.read_timestamp_micros(n), micros),
        "ours timestamp-micros": (lambda n: EPOCH + timedelta(0, 0, n), micros),
        "fastavro uuid": (lambda t: logical.read_uuid(t), texts),
        "ours uuid": (uuid_of, texts),
        "fastavro decimal": (lambda b: logical.read_decimal(b, price_schema), prices),
        "ours decimal": (lambda b: price(int.from_bytes(b, "big", signed=True)), prices),
        "from_record": (ProductChange.from_record, records),
        "OLD decode v2": (old_decode, values),
        "NEW decode v2": (codec.decode, values),
        "OLD decode v1": (old_decode, old_values),
        "NEW decode v1": (codec.decode, old_values),
        "reader.read (new)": (lambda kvh: reader.read(kvh[0], kvh[1], kvh[2]), kafka),
        "read_record (new)": (lambda kvh: read_record(0, 0, kvh[0], kvh[1], kvh[2]), kafka),
    }  # fmt: skip
    best: dict[str, float] = {}
    for n in range(args.rounds):
        for name, (step, inputs) in steps.items() if n % 2 == 0 else reversed(steps.items()):
            figure = _per_record(step, inputs)
            best[name] = min(best.get(name, figure), figure)
    for name, figure in best.items():
        print(f"{name:40s} {figure:7.2f} µs/record")
    for version in ("v2", "v1"):
        old, new = best[f"OLD decode {version}"], best[f"NEW decode {version}"]
        print(f"decode {version}: new/old {new / old:.2f}x ({old:.2f} -> {new:.2f} µs)")


def codec_epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC)


if __name__ == "__main__":
    main()
