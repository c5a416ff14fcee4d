"""Same-run A/B of a first catch-up in parts whose merge finds a key in two parts (a topic whose
partitions were added: one product's records in every partition): a git revision's projector (A)
and the working tree's (B), each started on an empty SQLite store against the same preloaded
topic, in interleaved rounds (the order alternates), timed until it applied every record. A
merged nothing and read the whole topic again in one process; B merges the part with the most
records and reads only the others' partitions again. CPU: the projector's and its workers'.

    PYTHONPATH=services:. .venv/bin/python -m bench.first_load_moved_key_ab --against main \
        --products 20000 --versions 10 --rounds 3
"""

from __future__ import annotations

import asyncio
import statistics
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from bench.harness import (
    PARTITIONS,
    Server,
    ab_arguments,
    broker_workspace,
    end_offsets,
    new_product_topic,
    old_tree,
)
from bench.projector_bench import catch_up, preload, realistic_event
from bench.rebuild_ab import cpu_seconds
from catalog_contract import codec, headers
from catalog_contract.keys import product_key

OLD, NEW = "A revision", "B working tree"


async def _moved(bootstrap: str, topic: str) -> int:
    """Product 0's next version into every partition but its own (its key's partition changed
    while partitions were added): the key is in every part. How many records that wrote."""
    ends = await asyncio.to_thread(end_offsets, bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        event = realistic_event(0, 10_000, datetime(2026, 11, 1, tzinfo=UTC))
        key = product_key(event.catalog_id, event.catalog_item_id)
        said = headers.for_change(event)
        own = (
            await producer.send_and_wait(topic, codec.encode(event), key=key, headers=said)
        ).partition
        for partition in sorted(set(ends) - {own}):
            await producer.send_and_wait(
                topic, codec.encode(event), key=key, headers=said,
                partition=partition,
            )  # fmt: skip
    finally:
        await producer.stop()
    return len(ends)


def _cpu(server: Server) -> dict[str, float]:
    return {"cpu_s": cpu_seconds(server.pid)}


def main() -> None:
    args = ab_arguments(__doc__, products=20_000, versions=10, rounds=3).parse_args()
    with broker_workspace("first-load-moved-ab-") as (work, bootstrap):
        old_services = old_tree(args.against, work / "old")
        topic = new_product_topic(bootstrap, "ab.moved")
        total = asyncio.run(preload(bootstrap, topic, args.products, args.versions))
        total += asyncio.run(_moved(bootstrap, topic))
        print(f"preloaded {total} events in {PARTITIONS} partitions", flush=True)
        seconds: dict[str, list[float]] = {OLD: [], NEW: []}
        cpu: dict[str, list[float]] = {OLD: [], NEW: []}
        for n in range(args.rounds):
            line = [f"round {n}"]
            for name in [OLD, NEW] if n % 2 == 0 else [NEW, OLD]:
                env = {"CATALOG_PROJECTOR_FIRST_LOAD_MIN_RECORDS": "1"}
                if name == OLD:
                    env["PYTHONPATH"] = f"{old_services}:{work / 'old'}"
                store = f"sqlite:///{work / uuid.uuid4().hex[:8]}/views.db"
                figures = catch_up(bootstrap, topic, store, total, work, f"{name[0]}{n}", _cpu, env)
                seconds[name].append(figures["seconds"])
                cpu[name].append(figures["cpu_s"])
                line.append(f"{name[0]} {figures['seconds']:.1f}s (CPU {figures['cpu_s']:.1f}s)")
            print("; ".join(line), flush=True)
        print(f"{total} events; A = {args.against}, B = working tree")
        for name in (OLD, NEW):
            print(
                f"{name}: median {statistics.median(seconds[name]):.1f}s wall, "
                f"{statistics.median(cpu[name]):.1f}s CPU"
            )
        for what, found in (("wall", seconds), ("CPU", cpu)):
            each = [b / a for a, b in zip(found[OLD], found[NEW], strict=True)]
            listed = ", ".join(f"{r:.2f}" for r in each)
            print(f"B / A {what}: median {statistics.median(each):.2f}x ({listed})")


if __name__ == "__main__":
    main()
