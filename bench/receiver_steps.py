"""The receiver's pure per-postback steps, timed in-process (µs per postback).

py-spy's profile of a load row is noisy on a shared machine; these steps are pure CPU, so
`timeit` over the same varied bodies bench/load.lua sends measures each one reliably (the best
of several repeats, as pyperf does). Run: `.venv/bin/python -m bench.receiver_steps`.
"""

from __future__ import annotations

import random
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from catalog_contract.events import CONTENT_FIELDS
from catalog_contract.writing import product_records
from receiver import formats
from receiver.metrics import ReceiverMetrics
from receiver.postback import build_change, event_id_for

BODIES = 300
REPEATS = 60


def load_bodies(count: int = BODIES, seed: int = 7) -> list[bytes]:
    """JSON postbacks shaped exactly as bench/load.lua's `json` mode writes them."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        n = rng.randint(1, 100_000)
        price = f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"
        stock = "InStock" if rng.random() < 0.8 else "OutOfStock"
        hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        at = f"2026-11-27T{hour:02d}:{minute:02d}:{second:02d}Z"
        bodies.append(
            (
                f'{{"CatalogId":"{n % 10}","CatalogItemId":"sku-{n}","Name":"Product {n}",'
                f'"Category":"Kitchen","Url":"https://shop.example/p/{n}",'
                f'"CurrentPrice":"{price}","OriginalPrice":"599.00","Currency":"EUR",'
                f'"StockAvailability":"{stock}","Gtin":"0401234{n:06d}","DateLastUpdated":"{at}"}}'
            ).encode()
        )
    return bodies


def per_item_us(step: Callable[[], object], items: int) -> float:
    # CPU time of this process, not wall time: on a shared machine the wall clock counts the
    # time other processes held the core.
    best = min(timeit.repeat(step, timer=time.process_time, number=1, repeat=REPEATS))
    return best / items * 1e6


def main() -> None:
    bodies = load_bodies()
    received = datetime(2026, 11, 28, tzinfo=UTC)
    raws = [formats.parse_body("application/json", body) for body in bodies]
    changes = [build_change(raw, received) for raw in raws]
    contents = [{name: getattr(c, name) for name in CONTENT_FIELDS} for c in changes]
    metrics = ReceiverMetrics()

    def parse() -> None:
        for body in bodies:
            formats.parse_body("application/json", body)

    def validate() -> None:
        for raw in raws:
            build_change(raw, received)

    def content_id() -> None:
        for content in contents:
            event_id_for(content)

    def encode() -> None:
        for change in changes:
            product_records(change)

    def count() -> None:
        for _ in bodies:
            metrics.in_flight.inc()
            started = time.perf_counter()
            metrics.produce_latency.observe(time.perf_counter() - started)
            metrics.accepted.inc()
            metrics.latency.observe(time.perf_counter() - started)
            metrics.in_flight.dec()

    steps = {
        "parse": parse,
        "validate": validate,
        "  of which content id": content_id,
        "encode": encode,
        "metrics": count,
    }
    total = 0.0
    print(f"{'step':<24}{'us/postback':>12}", file=sys.stdout)
    for name, step in steps.items():
        us = per_item_us(step, len(bodies))
        if not name.startswith(" "):
            total += us
        print(f"{name:<24}{us:>12.1f}")
    print(f"{'total':<24}{total:>12.1f}")


if __name__ == "__main__":
    main()
