"""Micro benchmark of the delivery statistics (projector.delivery), no broker:

    .venv/bin/python -m bench.delivery_stats [--events N] [--catalogs N] [--rounds N]

Feeds batches of 1,000 decoded records to `DeliveryStats.observe`, as the live consumer does,
and in the same rounds the projector's own per-batch planning of the same records (Avro decode
by `read_record`, then `plan_batch`), alternating, each batch's time the best of `--rounds`
and timed in CPU time of this process (the machine may be shared: time spent waiting for a core
is not the code's cost). It prints both costs per event and the statistics' share of a
catch-up at BENCHMARKS.md's rate.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import change, replace

from catalog_contract import codec
from catalog_contract import headers as record_headers
from catalog_contract.keys import product_key
from projector.batch import plan_batch
from projector.delivery import DeliveryStats
from projector.records import Incoming, Unreadable, read_record

Raw = tuple[int, int, bytes, bytes, list[tuple[str, bytes]]]


def raw_records(events: int, catalogs: int) -> list[Raw]:
    start = datetime.now(UTC) - timedelta(hours=30)  # spread over more than a day
    step = timedelta(hours=30) / events
    template = change("i", "c", price="12.99", name="Enamel mug")
    out = []
    for n in range(events):
        received = start + n * step
        event = replace(
            template,
            catalog_id=f"c{n % catalogs}",
            catalog_item_id=f"i{n}",
            received_at=received,
            source_updated_at=received - timedelta(seconds=n % 5000),
        )
        key = product_key(event.catalog_id, event.catalog_item_id)
        out.append((n % 6, n // 6, key, codec.encode(event), record_headers.for_change(event)))
    return out


def best_batches(work: Callable[[int], Any], batches: int, rounds: int) -> float:
    best = [float("inf")] * batches
    for _ in range(rounds):
        for index in range(batches):
            started = time.process_time()
            work(index)
            best[index] = min(best[index], time.process_time() - started)
    return sum(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--catalogs", type=int, default=150)  # over the default cap of 100
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--catch-up", type=float, default=7325.0, help="events/s, SQLite")
    args = parser.parse_args()
    batch = 1000
    raw = raw_records(args.events, args.catalogs)
    decoded: list[list[Incoming | Unreadable]] = []
    headers: list[list[Any]] = []
    for first in range(0, len(raw), batch):
        chunk = raw[first : first + batch]
        decoded.append([read_record(p, o, k, v, h) for p, o, k, v, h in chunk])
        headers.append([h for *_, h in chunk])
    batches = len(decoded)

    def plan(index: int) -> None:
        chunk = raw[index * batch : (index + 1) * batch]
        records = [read_record(p, o, k, v, h) for p, o, k, v, h in chunk]
        plan_batch(records, {}, lambda key: None)

    stats = [DeliveryStats()]

    def observe(index: int) -> None:
        if index == 0:
            stats[0] = DeliveryStats()  # each round counts every record once
        stats[0].observe(zip(decoded[index], headers[index], strict=True))

    planning = best_batches(plan, batches, args.rounds)
    delivery = best_batches(observe, batches, args.rounds)
    per_event = delivery / args.events * 1e6
    print(f"delivery statistics: {args.events / delivery:,.0f} events/s, {per_event:.2f} us/event")
    print(f"projector planning (decode + fold): {planning / args.events * 1e6:.2f} us/event")
    print(f"statistics / planning: {delivery / planning:.1%}")
    budget = 1e6 / args.catch_up
    print(f"share of a {args.catch_up:,.0f} events/s catch-up ({budget:.0f} us/event): "
          f"{per_event / budget:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
