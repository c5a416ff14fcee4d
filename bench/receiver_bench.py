"""Receiver throughput and latency against the machine's HTTP ceiling, Kafka's own producer
ceiling and a straightforward baseline, all in one run, in interleaved rounds (the rows' and
rounds' bookkeeping: bench/receiver_rounds.py)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import (
    Server,
    connections_per_process,
    cpu_seconds,
    operator_receiver,
    peak_rss_mb,
    receiver_env,
    serve,
    tree,
    uvicorn,
    wrk_measured,
)
from bench.projector_bench import realistic_event
from bench.receiver_profile import ORDER, profiled, summarise
from bench.receiver_rounds import Contender, Row, medians, round_order, round_ratios
from catalog_contract import codec, topics
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all

SECRET = "bench-secret-0123456789"
PATH = "/v1/postbacks/product-changes"


def sample_value_size() -> int:
    """Bytes of one realistic encoded value (what `load.lua` posts)."""
    return len(codec.encode(realistic_event(12345, 0, datetime.now(UTC))))


def producer_ceiling(broker: LocalBroker, topic: str, records: int, size: int) -> tuple[float, str]:
    """Apache Kafka's kafka-producer-perf-test, acks=all, same record size."""
    command = [
        "java",
        "-Xmx512m",
        "-cp",
        f"{broker.lib_dir}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={broker.bootstrap_servers}",
        "acks=all",
        "linger.ms=5",
        "compression.type=lz4",
        "enable.idempotence=true",
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    final = [line for line in out.splitlines() if "records sent" in line][-1]
    if final.startswith("0 records sent"):
        raise RuntimeError(f"kafka-producer-perf-test sent nothing:\n{out[-2000:]}")
    rate = float(re.search(r"([\d.]+) records/sec", final).group(1))  # type: ignore[union-attr]
    return rate, final.strip()


def profile(url: str, pid: int, connections: list[int], seconds: int, logs: Path) -> dict[str, Any]:
    """One more JSON row at the middle concurrency, under py-spy: CPU per postback by group.
    Its rate is not a figure of the table (the profiler costs a little)."""
    c = connections[len(connections) // 2]
    (result, server_cpu), raw = profiled(
        pid,
        logs / "receiver-profile.txt",
        lambda: wrk_measured(url, "json", c, seconds, pid, {"BENCH_SECRET": SECRET}),
    )
    groups = summarise(raw)
    samples = sum(groups.values())
    if samples == 0 or result.requests == 0:
        raise RuntimeError(f"the profiled row has no samples ({samples}) or no requests")
    per_request_us = server_cpu / result.requests * 1e6
    print(f"  profiled receiver c={c}: {samples} samples, {per_request_us:.0f} µs CPU/postback")
    return {
        "connections": c,
        "rate": result.rate,
        "samples": samples,
        "cpu_us_per_request": per_request_us,
        "groups": {
            name: (groups[name] / samples, groups[name] / samples * per_request_us)
            for name in ORDER
        },
    }


def worker_pids(parent: int) -> list[int]:
    """The worker processes under `parent` (not multiprocessing's resource tracker, which
    uvicorn's --workers would start)."""
    workers = []
    for pid in tree(parent)[1:]:
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            workers.append(pid)
    return workers


def _record_split(each: Contender, seconds: int, into: list[list[int]]) -> threading.Thread:
    """Halfway through the row: the client connections each worker holds."""
    port = int(each.url.split(":")[2].split("/")[0])

    def look() -> None:
        time.sleep(seconds / 2)
        into.append(sorted(connections_per_process(worker_pids(each.pid), port), reverse=True))

    watcher = threading.Thread(target=look, daemon=True)
    watcher.start()
    return watcher


def interleaved(
    contenders: list[Contender],
    connections: list[int],
    rounds: int,
    seconds: int,
    broker_pid: int,
    splits: dict[str, list[list[int]]] | None = None,
) -> list[Row]:
    """`rounds` rounds; in each, every concurrency, and at each every contender once (in the
    round's order). Returns the raw rows, round after round; `splits` gets, for each row of a
    contender with several workers, the connections each worker held (by "name, c=N")."""
    raw: list[Row] = []
    for round_no in range(rounds):
        for c in connections:
            for each in round_order(contenders, round_no):
                broker_before = cpu_seconds(broker_pid)
                watcher = None
                if each.workers > 1 and splits is not None:
                    held = splits.setdefault(f"{each.name}, c={c}", [])
                    watcher = _record_split(each, seconds, held)
                result, server_cpu = wrk_measured(
                    each.url, each.mode, c, seconds, each.pid, {"BENCH_SECRET": SECRET}
                )
                if watcher is not None:
                    watcher.join()
                broker_cpu = cpu_seconds(broker_pid) - broker_before
                per = 1000 / max(1, result.requests)
                raw.append(
                    Row(
                        each.name,
                        c,
                        result.rate,
                        result.p50_ms,
                        result.p99_ms,
                        result.p999_ms,
                        result.errors,
                        server_cpu * per,
                        broker_cpu * per,
                        result.wrk_cpu_s / result.seconds,
                    )
                )
                print(
                    f"  round {round_no + 1}/{rounds} {each.name:28} c={c:<4} "
                    f"{result.rate:8.0f}/s p99 {result.p99_ms:7.1f} ms errors {result.errors}"
                    f" CPU s/1000 {server_cpu * per:.3f}",
                    flush=True,
                )
    return raw


CEILING = "HTTP ceiling (empty endpoint)"
BASELINE = "baseline (send_and_wait, JSON)"
ONE = "receiver, 1 worker(s), JSON"


def run(
    broker: LocalBroker, connections: list[int], seconds: int, log_dir: object, rounds: int = 1
) -> tuple[list[Row], dict[str, Any]]:
    """Every server is started first and stays up; the rows are then taken in interleaved rounds
    (`interleaved`), so that the ratios between them do not carry the machine's drift over the
    minutes a sequential run takes. The table shows medians; every round's row is kept in
    `extra["rounds"]`."""
    logs = Path(str(log_dir))
    bootstrap = broker.bootstrap_servers
    ours = topics.product_topic(f"bench.receiver.{uuid.uuid4().hex[:6]}")
    dead = topics.dead_letter_topic(f"bench.dead.{uuid.uuid4().hex[:6]}")
    base_topic = topics.product_topic(f"bench.baseline.{uuid.uuid4().hex[:6]}")
    # kafka-producer-perf-test sends records without keys, which a compacted topic refuses.
    perf_topic = topics.TopicSpec(
        f"bench.perf.{uuid.uuid4().hex[:6]}",
        ours.partitions,
        ours.replication_factor,
        {"cleanup.policy": "delete"},
    )
    asyncio.run(ensure_all(bootstrap, [ours, dead, base_topic, perf_topic]))
    broker_pid = broker.process.pid if broker.process else 0
    extra: dict[str, Any] = {}
    receiver = receiver_env(bootstrap, ours.name, dead.name, SECRET)
    baseline = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "BENCH_TOPIC": base_topic.name}
    with ExitStack() as stack:

        def up(app: str, workers: int, env: dict[str, str], ready: str, log: str) -> Server:
            port = free_port()
            command = uvicorn(app, port, workers)
            return stack.enter_context(serve(command, port, env, ready, logs / log))

        ceiling = up("bench.apps:empty_app", 1, {}, "/docs", "ceiling.log")
        naive = up("bench.apps:baseline_app", 1, baseline, "/docs", "baseline.log")

        # As operators run it (uvicorn's --workers let one worker take all 64 connections).
        def receiver_up(workers: int) -> Server:
            log = logs / f"receiver-{workers}.log"
            return stack.enter_context(operator_receiver(receiver, workers, log))

        one = receiver_up(1)
        two = receiver_up(2)
        contenders = [
            Contender(CEILING, ceiling.url + PATH, "json", ceiling.pid),
            Contender(BASELINE, naive.url + PATH, "json", naive.pid),
            Contender(ONE, one.url + PATH, "json", one.pid),
            Contender("receiver, 1 worker(s), form", one.url + PATH, "form", one.pid),
            Contender("receiver, 2 worker(s), JSON", two.url + PATH, "json", two.pid, 2),
        ]
        splits: dict[str, list[list[int]]] = {}
        raw = interleaved(contenders, connections, rounds, seconds, broker_pid, splits)
        extra["worker_connections"] = splits
        extra["profile"] = profile(one.url + PATH, one.pid, connections, seconds, logs)
        extra["receiver_peak_rss_mb_1w"] = peak_rss_mb(one.pid)
        extra["receiver_peak_rss_mb_2w"] = peak_rss_mb(two.pid)
    rows = medians(raw)
    extra["rounds"] = [asdict(r) for r in raw]
    extra["round_count"] = rounds
    extra["vs_baseline_by_round"] = round_ratios(
        raw, ONE, BASELINE, len(contenders) * len(connections)
    )
    (logs / "receiver-rounds.json").write_text(json.dumps(extra["rounds"], indent=1))
    size = sample_value_size()
    records = max(20_000, int(max(r.rate for r in rows) * seconds * 2))
    rate, line = producer_ceiling(broker, perf_topic.name, records, size)
    extra.update(producer_perf_rate=rate, producer_perf_line=line, value_size=size)
    print(f"  kafka-producer-perf-test: {line}", flush=True)
    return rows, extra
