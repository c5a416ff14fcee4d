"""`make bench` / `make bench-quick`: every figure and its ceiling measured in one run, printed as
a table and written to BENCHMARKS.md with the command, the machine and the Kafka version."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import freshness_bench, kstreams_peer, projector_bench, receiver_bench, receiver_rounds
from bench.harness import ROOT
from catalog_stream.broker import LocalBroker
from catalog_stream.java_libs import kafka_version
from catalog_stream.ports import free_port


@dataclass(frozen=True)
class Sizes:
    connections: list[int]
    seconds: int
    products: int
    versions: int
    big: int  # products in the memory-scaling run (about as many events as the main preload)
    read: int
    rounds: int = 1  # the receiver's interleaved rounds (medians in the table)


QUICK = Sizes(connections=[32], seconds=3, products=2_000, versions=5, big=20_000, read=3)
FULL = Sizes(
    connections=[16, 64, 256],
    seconds=6,
    products=100_000,
    versions=10,
    big=1_000_000,
    read=10,
    rounds=3,
)


def machine() -> str:
    memory = next(
        line
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    gib = int(memory.split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({model}), {gib:.0f} GiB memory, Python {platform.python_version()}"


def receiver_table(rows: list[receiver_rounds.Row], extra: dict[str, Any]) -> list[str]:
    lines = [
        "| server | connections | postbacks/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU s / 1,000 | broker CPU s / 1,000 | wrk CPU share |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.connections} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.p999_ms:.1f} | {r.errors} | {r.cpu_per_1000:.3f} | {r.broker_cpu_per_1000:.3f} | "
            f"{r.wrk_cpu_share:.0%} |"
        )
    lines.append(
        f"| kafka-producer-perf-test ({extra['value_size']} B records, acks=all) | - | "
        f"{float(extra['producer_perf_rate']):,.0f} | | | | | | | |"
    )
    return lines


def receiver_ratios(rows: list[receiver_rounds.Row], extra: dict[str, Any]) -> list[str]:
    def best(prefix: str) -> receiver_rounds.Row:
        return max((r for r in rows if r.name.startswith(prefix)), key=lambda r: r.rate)

    baseline = best("baseline")
    one, two = best("receiver, 1 worker(s), JSON"), best("receiver, 2 worker(s), JSON")
    form = best("receiver, 1 worker(s), form")
    same_c = next(
        r for r in rows if r.name.startswith("HTTP ceiling") and r.connections == one.connections
    )
    return [
        f"- receiver (1 worker, JSON, best {one.rate:,.0f}/s at c={one.connections}) = "
        f"**{one.rate / same_c.rate:.0%} of the HTTP ceiling** at the same concurrency ({same_c.rate:,.0f}/s)",
        f"- receiver vs the straightforward baseline (best {baseline.rate:,.0f}/s): **{one.rate / baseline.rate:.2f}x**",
        *receiver_rounds.same_round_lines(extra),
        *receiver_rounds.split_lines(extra),
        f"- 2 workers vs 1 worker on this 2-core machine: **{two.rate / one.rate:.2f}x** ({two.rate:,.0f}/s)",
        f"- form bodies vs JSON, 1 worker: {form.rate / one.rate:.2f}x",
        f"- Kafka's own producer (acks=all) reaches {float(extra['producer_perf_rate']):,.0f} records/s: the broker "
        f"is {float(extra['producer_perf_rate']) / one.rate:.0f}x our rate: the broker is not the limit",
        f"- peak RSS: receiver {float(extra['receiver_peak_rss_mb_1w']):.0f} MiB (1 worker), "
        f"{float(extra['receiver_peak_rss_mb_2w']):.0f} MiB (largest of 2 workers)",
    ]


def profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = [
        f"Where the receiver's CPU goes (1 worker, JSON, c={profile['connections']}: one more row under "
        f"py-spy, {profile['samples']:,} samples at 200 Hz, {profile['rate']:,.0f} postbacks/s, "
        f"{profile['cpu_us_per_request']:,.0f} µs of receiver CPU per postback). Each sample counts for the "
        "innermost frame of ours or of a library we call for that step (bench/receiver_profile.py):",
        "",
        "| step | share of samples | CPU µs / postback |",
        "| --- | ---: | ---: |",
    ]
    for name, (share, micros) in profile["groups"].items():
        lines.append(f"| {name} | {share:.0%} | {micros:,.0f} |")
    return lines


def projector_lines(p: projector_bench.Results) -> list[str]:
    f = p.figures
    raw = f["raw_decode_rate"]
    lines = [
        f"Preloaded **{p.events:,} events** ({p.products:,} products x {p.events // p.products} versions) "
        f"in {f['preload_seconds']:.0f} s.",
        "",
        "| measure | figure | vs raw consume + decode |",
        "| --- | ---: | ---: |",
        f"| raw aiokafka consume + Avro decode, no store (ceiling) | {raw:,.0f} events/s | 100% |",
        f"| kafka-consumer-perf-test (broker's raw rate) | {f['consumer_perf_rate']:,.0f} records/s | |",
        f"| projector catch-up into SQLite | {f['sqlite_rate']:,.0f} events/s ({f['sqlite_seconds']:.0f} s) | {f['sqlite_rate'] / raw:.0%} |",
        f"| peer: Kafka Streams KTable catch-up into RocksDB (bench/kstreams) | {f['kstreams_rate']:,.0f} events/s "
        f"({f['kstreams_seconds']:.0f} s, of which start-up {f['kstreams_startup_s']:.1f} s) | {f['kstreams_rate'] / raw:.0%} |",
    ]
    if "postgres_rate" in f:
        lines.append(
            f"| projector catch-up into PostgreSQL | {f['postgres_rate']:,.0f} events/s "
            f"({f['postgres_seconds']:.0f} s) | {f['postgres_rate'] / raw:.0%} |"
        )
    lines += [
        f"| full rebuild (new generation, then switch), SQLite | {f['sqlite_rebuild_seconds']:.0f} s "
        f"({p.events / f['sqlite_rebuild_seconds']:,.0f} events/s) | {p.events / f['sqlite_rebuild_seconds'] / raw:.0%} |",
        f"| read API: item lookups, 32 connections | {f['sqlite_read_item_rate']:,.0f} req/s, p99 {f['sqlite_read_item_p99_ms']:.1f} ms, errors {f['sqlite_read_item_errors']:.0f} | |",
        f"| read API: filtered catalog page (50 items), 32 connections | {f['sqlite_read_page_rate']:,.0f} req/s, p99 {f['sqlite_read_page_p99_ms']:.1f} ms, errors {f['sqlite_read_page_errors']:.0f} | |",
        *freshness_rows(f),
        f"| projector peak RSS, {p.products:,} products ({p.events:,} events) | {f['sqlite_peak_rss_mb']:.0f} MiB | |",
        f"| projector peak RSS, {f['big_products']:,.0f} products ({f['big_events']:,.0f} events) | {f['big_peak_rss_mb']:.0f} MiB | x{f['big_peak_rss_mb'] / f['sqlite_peak_rss_mb']:.2f} for x{f['big_products'] / p.products:.0f} products |",
    ]
    lines += [
        "",
        f"- Kafka Streams (the peer) vs the projector into SQLite: **{f['kstreams_rate'] / f['sqlite_rate']:.1f}x** "
        f"the projector's rate, {f['kstreams_seconds']:.0f} s against {f['sqlite_seconds']:.0f} s; "
        f"peak RSS {f['kstreams_peak_rss_mb']:.0f} MiB (JVM with -Xmx1g, and RocksDB) "
        f"against {f['sqlite_peak_rss_mb']:.0f} MiB",
        "",
        *METHOD,
    ]
    return lines


# How the rows added for issue 11 are measured (the others are described in README "Benchmarks").
METHOD = [
    "**The peer** (`bench/kstreams`, Kafka Streams at the broker's version, Java 17, built by Maven): "
    "what a user who wants the latest state per key of a compacted topic reaches for, a KTable. It reads "
    "the same preloaded topic with its own consumer group, decodes every value with Apache Avro's "
    "single-object decoder (older writer schemas resolved to the newest, decimals and timestamps "
    "converted, as our decoder does), turns REMOVED events and tombstones into deletions, and keeps the "
    "last value per key in a persistent RocksDB store with Kafka Streams' defaults (one stream thread, "
    "at-least-once, 10 MB record cache) and no changelog topic: the topic is compacted and is the "
    "store's backup, as for `builder.table()` with `topology.optimization=all`. It captures the end "
    "offsets at start and stops once every record before them is in its store; its time runs from the "
    "process start (JVM start-up included, shown as start-up) to that moment, plus the close that "
    "flushes its cache into RocksDB and commits, as the projector's runs until its store has committed "
    "every record. The harness refuses the figure unless it read every record into one key per product. "
    "It keeps the last value by offset; the projector also merges partial postbacks, orders versions "
    "by the source's update time, ignores exact repeats and keeps what the read API and the change "
    "feed need: that work is in the projector's figure, not in the peer's.",
    "",
    "**Where the projector's catch-up time goes** (py-spy, 200,000 of these events into SQLite, "
    "all threads' samples, after round two): decoding the records (fastavro and the event "
    "dataclass) 28%, the write transaction 21% (the SQLite upsert itself 11%, turning states into"
    " rows 6%), reading the batch's stored items back 12% (half of it turning rows into states), "
    "the fold 11%, the event loop's fetching 14%. While one batch is written, the next one "
    "(already fetched) is decoded and planned on another thread, on top of the plan being "
    "written, so SQLite's and PostgreSQL's work (without the GIL) overlaps the Python work; a "
    "rebuild writes no change below the active generation's positions (the switch keeps that "
    "generation's feed) and builds the read indexes after its load; offsets are mirrored to Kafka"
    " once a second, not after every batch. Round three: the event is built from the decoded record"
    " with its field names worked out once, the fold reads the merged fields in one call, rows are "
    "converted with the columns to convert decided once, and PostgreSQL takes a batch's rows and "
    "feed entries by COPY (into a temporary table, then one upsert) instead of `executemany`; a "
    "profile of PostgreSQL catch-up before COPY showed decode 25% (fastavro 16%), write 29% "
    "(`executemany` 21%), read-back 13%, fold 13%. Round four: events, item states and the "
    "fold's outcomes are built by one generated function per class that sets each slot directly "
    "(not through the frozen `__init__`), rows read back are converted in place and catalog counts "
    "added up in integers (py-spy: 32% fewer busy samples for the same catch-up and rebuild; the "
    "raw ceiling builds its events the same faster way). Since stop 29 a value is decoded by a "
    "reader generated for its writer schema, and the raw ceiling decodes the same way. A profile "
    "after that change (stop 30; 200,000 events, 50,000 products x 4; busy samples of all "
    "threads): the SQLite upsert 21% and the feed's insert 4% (both on the write's thread), "
    "reading the records 15% (decode 12%), reading the batch's items back 13%, the fold 12%, "
    "states to rows and back 9%, aiokafka's fetch 3%. What stands between the projector and the "
    "ceiling now is the SQLite write, then the Python work of reading, folding and converting "
    "each record, on one interpreter: the ceiling only decodes.",
    "",
    "**Freshness**: one receiver worker and one projector (SQLite) on a fresh topic; postbacks on a fixed "
    "schedule at each rate, sent by a lean keep-alive HTTP client (`bench/lean_http.py`: httpx costs "
    "more CPU per request than the servers it would measure). After each 200 the item is read back "
    "with `min_position` (the read API waits until the view has applied that record); the delay runs "
    "from the 200 to that answer. `sent at` is the rate the schedule reached, `accepted at` the rate "
    "of 200s: below the row's rate, the receiver did not keep up and the row is not at that rate. "
    "Each waiting reader has a future of its own, woken by the batch that applies its position "
    "(round three; an `asyncio.Condition` woke every reader on every batch, one loop turn each). "
    "Each postback here is a new item's untimed postback: since round five it is not restated (a "
    "replay applies it over nothing too), where before each one was written back to the topic with "
    "acks=all before its batch and consumed again; a partial postback of a known item still is. "
    "The offsets mirror to Kafka no longer waits in a batch's path. The readers a batch wakes "
    "share one worker-thread hop to the store (round seven; each made its own, each queued for "
    "the GIL against the consumer's thread). A batch's readers are answered as soon as it "
    "commits (round eight; they waited for the next batch's fetch and plan). What remains at "
    "1,000/s is the "
    "chain of serial steps per batch (the record's age when fetched, the previous batch's write, "
    "the SQLite write) on 2 cores shared by the receiver, the projector, the broker and the load "
    "generator.",
]


def freshness_rows(f: dict[str, float]) -> list[str]:
    rows = []
    for rate in freshness_bench.RATES:
        x = {
            k.removeprefix(f"freshness_{rate}_"): v
            for k, v in f.items()
            if k.startswith(f"freshness_{rate}_")
        }
        rows.append(
            f"| freshness, {rate:,} postbacks/s: 200 -> visible via read API | p50 {x['p50_ms']:.0f} ms, "
            f"p99 {x['p99_ms']:.0f} ms ({x['count']:,.0f} postbacks, sent at {x['offered_rate']:,.0f}/s, "
            f"accepted at {x['accepted_rate']:,.0f}/s, "
            f"errors {x['errors']:.0f}; load generator CPU {x['client_cpu_share']:.0%}) | |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: checks the harness works"
    )
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    kstreams_peer.ensure_built()  # Maven's first fetch and the compile, before anything is timed
    work = Path(tempfile.mkdtemp(prefix="catalog-stream-bench-"))
    logs = work / "logs"
    logs.mkdir()
    broker = LocalBroker(work / "kafka", port=free_port(), controller_port=free_port(), heap="1g")
    started = time.time()
    broker.start()
    try:
        print("receiver:", flush=True)
        rows, extra = receiver_bench.run(
            broker, sizes.connections, sizes.seconds, logs, sizes.rounds
        )
        print("projector:", flush=True)
        projector = projector_bench.run(
            broker,
            sizes.products,
            sizes.versions,
            sizes.big,
            sizes.read,
            logs,
            with_postgres=not args.no_postgres,
        )
    finally:
        broker.stop()
    command = "make bench-quick" if args.quick else "make bench"
    report = [
        "# Benchmarks",
        "",
        f"Command: `{command}` (`python -m bench.run{' --quick' if args.quick else ''}`), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {time.time() - started:.0f} s.",
        f"Machine: {machine()}. Apache Kafka {kafka_version(broker.lib_dir)} (one KRaft broker on loopback).",
        "Every figure and its ceiling come from this one run on a shared, noisy machine: read the ratios, "
        "and the raw figures beside them. wrk runs one thread; its CPU share is shown.",
        "",
        "## Receiver",
        "",
        f"Each 200 means Kafka acknowledged the write (acks=all). Load: wrk, realistic postbacks for random "
        f"products (bench/load.lua). All servers are up at once and every row is taken in {sizes.rounds} "
        f"interleaved round(s) of {sizes.seconds} s (each round: every concurrency, every server once, the "
        "round's first server rotating), so a ratio between rows does not carry the machine's drift between "
        "them; the table shows each figure's median over the rounds, every round is listed below.",
        "",
        *receiver_table(rows, extra),
        "",
        *receiver_ratios(rows, extra),
        "",
        *receiver_rounds.round_lines(extra),
        "",
        *profile_lines(extra["profile"]),
        "",
        "## Projector",
        "",
        *projector_lines(projector),
        "",
        f"kafka-producer-perf-test: `{extra['producer_perf_line']}`  ",
        f"kafka-consumer-perf-test: `{projector.notes['consumer_perf_line']}`",
        "",
    ]
    text = "\n".join(report)
    print(text)
    Path(args.output).write_text(text)
    print(f"written to {args.output}; logs in {logs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
