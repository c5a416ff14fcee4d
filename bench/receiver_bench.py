"""Receiver throughput and latency against the machine's HTTP ceiling, Kafka's own producer
ceiling and a straightforward baseline, all in one run."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import (
    cpu_seconds,
    peak_rss_mb,
    receiver_env,
    serve,
    uvicorn,
    wrk_measured,
)
from bench.projector_bench import realistic_event
from bench.receiver_profile import ORDER, profiled, summarise
from catalog_contract import codec, topics
from catalog_stream.broker import LocalBroker, free_port
from catalog_stream.topic_admin import ensure_all

SECRET = "bench-secret-0123456789"
PATH = "/v1/postbacks/product-changes"


@dataclass
class Row:
    name: str
    connections: int
    rate: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int
    cpu_per_1000: float  # server CPU seconds per 1,000 requests
    broker_cpu_per_1000: float
    wrk_cpu_share: float  # the load generator's CPU, as a share of the run's wall time


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


def run(
    broker: LocalBroker, connections: list[int], seconds: int, log_dir: object
) -> tuple[list[Row], dict[str, Any]]:

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
    rows: list[Row] = []
    extra: dict[str, Any] = {}

    def measure(name: str, url: str, mode: str, server_pid: int) -> None:
        for c in connections:
            broker_before = cpu_seconds(broker_pid)
            result, server_cpu = wrk_measured(
                url, mode, c, seconds, server_pid, {"BENCH_SECRET": SECRET}
            )
            broker_cpu = cpu_seconds(broker_pid) - broker_before
            per = 1000 / max(1, result.requests)
            rows.append(
                Row(
                    name,
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
                f"  {name:28} c={c:<4} {result.rate:8.0f}/s p99 {result.p99_ms:7.1f} ms "
                f"errors {result.errors}",
                flush=True,
            )

    port = free_port()
    with serve(uvicorn("bench.apps:empty_app", port), port, {}, "/docs") as server:
        measure("HTTP ceiling (empty endpoint)", server.url + PATH, "json", server.pid)
    port = free_port()
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "BENCH_TOPIC": base_topic.name}
    with serve(uvicorn("bench.apps:baseline_app", port), port, env, "/docs") as server:
        measure("baseline (send_and_wait, JSON)", server.url + PATH, "json", server.pid)
    env = receiver_env(bootstrap, ours.name, dead.name, SECRET)
    for workers in (1, 2):
        port = free_port()
        with serve(
            uvicorn("receiver.main:app_from_env", port, workers),
            port,
            env,
            "/readyz",
            logs / f"receiver-{workers}.log",
        ) as server:
            measure(f"receiver, {workers} worker(s), JSON", server.url + PATH, "json", server.pid)
            if workers == 1:
                measure("receiver, 1 worker(s), form", server.url + PATH, "form", server.pid)
                extra["profile"] = profile(
                    server.url + PATH, server.pid, connections, seconds, logs
                )
            extra[f"receiver_peak_rss_mb_{workers}w"] = peak_rss_mb(server.pid)
    size = sample_value_size()
    records = max(20_000, int(max(r.rate for r in rows) * seconds * 2))
    rate, line = producer_ceiling(broker, perf_topic.name, records, size)
    extra.update(producer_perf_rate=rate, producer_perf_line=line, value_size=size)
    print(f"  kafka-producer-perf-test: {line}", flush=True)
    return rows, extra
