"""Projector catch-up, rebuild, freshness and read API against the raw consume+decode rate and
Kafka's own consumer, in one run."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tests.postgres import LocalPostgres

from bench import freshness_bench, kstreams_peer
from bench.harness import ADMIN, Server, peak_rss_mb, projector_env, serve, wait_until, wrk
from catalog_contract import codec, headers, topics
from catalog_contract.events import Availability, ChangeType, ProductChange
from catalog_contract.keys import product_key
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all

CATALOGS = 10
SECRET = "bench-secret-0123456789"


@dataclass
class Results:
    events: int = 0
    products: int = 0
    figures: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def realistic_event(n: int, version: int, base: datetime) -> ProductChange:
    """Product n's version, with the fields the load script posts (realistic sizes)."""
    rng = random.Random(n * 31 + version)
    return ProductChange(
        event_id=uuid.uuid4(),
        received_at=base + timedelta(seconds=version),
        change_type=ChangeType.UPDATED,
        catalog_id=str(n % CATALOGS),
        catalog_item_id=f"sku-{n}",
        source_updated_at=base + timedelta(minutes=version),
        name=f"Product {n}",
        category="Kitchen",
        url=f"https://shop.example/p/{n}",
        current_price=Decimal(rng.randrange(100, 50_000)).scaleb(-2).quantize(Decimal("0.0001")),
        original_price=Decimal("599.0000"),
        currency="EUR",
        stock_availability=Availability.IN_STOCK
        if rng.random() < 0.8
        else Availability.OUT_OF_STOCK,
        gtin=f"0401234{n:06d}",
    )


async def preload(bootstrap: str, topic: str, products: int, versions: int) -> int:
    """products x versions events, version-major (every product's v1, then v2 ...)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=50,
        compression_type="lz4",
        max_batch_size=512 * 1024,
    )
    await producer.start()
    base = datetime(2026, 11, 1, tzinfo=UTC)
    pending = []
    try:
        for version in range(versions):
            for n in range(products):
                event = realistic_event(n, version, base)
                key = product_key(event.catalog_id, event.catalog_item_id)
                pending.append(
                    await producer.send(
                        topic, codec.encode(event), key=key, headers=headers.for_change(event)
                    )
                )
                if len(pending) >= 20_000:
                    await asyncio.gather(*pending)
                    pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return products * versions


async def raw_decode_rate(
    bootstrap: str, topic: str, total: int, isolation_level: str = "read_committed"
) -> float:
    """The ceiling: aiokafka consume + Avro decode of every value, no store. Committed records
    only by default, as the projector reads them (KafkaConnection.consumer_options): the fair
    comparison."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        isolation_level=isolation_level,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, started = 0, time.perf_counter()
        while seen < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).values():
                for record in records:
                    codec.decode(record.value)
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def consumer_perf(broker: LocalBroker, topic: str, total: int) -> tuple[float, str]:
    command = [
        "java",
        "-Xmx512m",
        "-cp",
        f"{broker.lib_dir}/*",
        "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server",
        broker.bootstrap_servers,
        "--topic",
        topic,
        "--messages",
        str(total),
        "--timeout",
        "60000",
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    header, values = [line for line in out.splitlines() if line.strip()][-2:]
    row = dict(
        zip(
            [h.strip() for h in header.split(",")],
            [v.strip() for v in values.split(",")],
            strict=False,
        )
    )
    return float(row["nMsg.sec"]), values.strip()


def _applied(url: str) -> int:
    response = httpx.get(url + "/v1/catalogs", timeout=10)
    positions = response.headers.get("X-View-Positions", "")
    return sum(int(p.split(":")[1]) for p in positions.split(",") if p)


def catch_up(
    bootstrap: str,
    topic: str,
    store_url: str,
    total: int,
    logs: Path,
    name: str,
    after: Callable[[Server], dict[str, float]] | None = None,
    env: dict[str, str] | None = None,
    started_hook: Callable[[Server], object] | None = None,
) -> dict[str, float]:
    """Start a projector on an empty store; time until it has applied every record. `env` is
    added to its environment (an A/B's PYTHONPATH); `started_hook` runs once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "catalog_stream.cli", "projector"]
    started = time.perf_counter()
    with serve(
        command,
        port,
        {**projector_env(bootstrap, topic, store_url, port), **(env or {})},
        "/healthz",
        logs / f"projector-{name}.log",
    ) as server:
        if started_hook is not None:
            started_hook(server)
        wait_until(lambda: _applied(server.url) >= total, timeout_s=7200, every_s=0.5)
        seconds = time.perf_counter() - started
        figures = {
            "seconds": seconds,
            "rate": total / seconds,
            "peak_rss_mb": peak_rss_mb(server.pid),
        }
        if after is not None:
            figures.update(after(server))
    return figures


def rebuild_and_read(
    total: int, products: int, read_seconds: int
) -> Callable[[Server], dict[str, float]]:
    def measure(server: Server) -> dict[str, float]:
        url = server.url
        figures: dict[str, float] = {}
        for mode in ("item", "page"):
            result = wrk(url, mode, 32, read_seconds, {"BENCH_PRODUCTS": str(products)})
            figures[f"read_{mode}_rate"] = result.rate
            figures[f"read_{mode}_p99_ms"] = result.p99_ms
            figures[f"read_{mode}_errors"] = result.errors
        started = time.perf_counter()
        httpx.post(url + "/v1/admin/rebuild", headers=ADMIN, timeout=10).raise_for_status()
        wait_until(
            lambda: (
                httpx.get(url + "/v1/admin/rebuild", headers=ADMIN, timeout=10).json()["state"]
                != "running"
            ),
            timeout_s=7200,
            every_s=0.5,
        )
        status = httpx.get(url + "/v1/admin/rebuild", headers=ADMIN, timeout=10).json()
        if status["state"] != "done" or status["applied"] != total:
            raise RuntimeError(f"rebuild did not complete: {status}")
        figures["rebuild_seconds"] = time.perf_counter() - started
        figures["peak_rss_mb_after_rebuild"] = peak_rss_mb(server.pid)
        return figures

    return measure


def run(
    broker: LocalBroker,
    products: int,
    versions: int,
    big_products: int,
    read_seconds: int,
    logs: Path,
    with_postgres: bool = True,
) -> Results:
    bootstrap = broker.bootstrap_servers
    spec = topics.product_topic(f"bench.preload.{uuid.uuid4().hex[:6]}")
    big = topics.product_topic(f"bench.products.{uuid.uuid4().hex[:6]}")
    asyncio.run(ensure_all(bootstrap, [spec, big]))
    results = Results(products=products)
    started = time.perf_counter()
    results.events = total = asyncio.run(preload(bootstrap, spec.name, products, versions))
    results.figures["preload_seconds"] = time.perf_counter() - started
    print(f"  preloaded {total} events in {results.figures['preload_seconds']:.0f}s", flush=True)
    results.figures["raw_decode_rate"] = asyncio.run(raw_decode_rate(bootstrap, spec.name, total))
    rate, line = consumer_perf(broker, spec.name, total)
    results.figures["consumer_perf_rate"] = rate
    results.notes["consumer_perf_line"] = line
    print(
        f"  raw decode {results.figures['raw_decode_rate']:.0f}/s, consumer-perf {rate:.0f}/s",
        flush=True,
    )
    peer = kstreams_peer.catch_up(bootstrap, spec.name, total, products, logs / "kstreams.log")
    results.figures.update({f"kstreams_{k}": v for k, v in peer.items()})
    print(
        f"  Kafka Streams catch-up {peer['rate']:.0f}/s ({peer['startup_s']:.1f}s start-up)",
        flush=True,
    )

    db = Path(tempfile.mkdtemp(prefix="bench-views-")) / "views.db"
    sqlite = catch_up(
        bootstrap,
        spec.name,
        f"sqlite:///{db}",
        total,
        logs,
        "sqlite",
        rebuild_and_read(total, products, read_seconds),
    )
    results.figures.update({f"sqlite_{k}": v for k, v in sqlite.items()})
    print(
        f"  sqlite catch-up {sqlite['rate']:.0f}/s, rebuild {sqlite['rebuild_seconds']:.0f}s",
        flush=True,
    )

    if with_postgres:
        server = LocalPostgres(Path(tempfile.mkdtemp(prefix="bench-pg-")), free_port())
        server.start()
        try:
            url = server.create_database("bench")
            pg = catch_up(bootstrap, spec.name, url, total, logs, "postgres")
        finally:
            server.stop()
        results.figures.update({f"postgres_{k}": v for k, v in pg.items()})
        print(f"  postgres catch-up {pg['rate']:.0f}/s", flush=True)

    # Memory against the number of products: the same number of events, 10x the products.
    big_total = asyncio.run(
        preload(bootstrap, big.name, big_products, max(1, total // big_products))
    )
    db2 = Path(tempfile.mkdtemp(prefix="bench-views-")) / "views.db"
    scaled = catch_up(bootstrap, big.name, f"sqlite:///{db2}", big_total, logs, "sqlite-big")
    results.figures["big_products"] = big_products
    results.figures["big_events"] = big_total
    results.figures["big_peak_rss_mb"] = scaled["peak_rss_mb"]
    results.figures["big_rate"] = scaled["rate"]

    # Freshness under a steady load: receiver and projector on one topic.
    results.figures.update(freshness_bench.run(bootstrap, SECRET, max(5, read_seconds), logs))
    return results
