"""Same-run A/B of the read API's item lookups (issue #11's "item lookups p99 <= 10 ms at 32
connections"): a git revision's projector (A) and the working tree's (B), each started as an
operator runs it on a SQLite store of its own and caught up on the same preloaded topic, both
left running; then rounds of wrk's `item` mode (bench/load.lua: random products, 32
connections) against each, the order alternating every round so the machine's noise hits both.
Per round and side: rate, p50, p99, p99.9 and the server's CPU per request (from /proc).

An item read is one indexed point read: it depends on the items table's size (the B-tree's
depth), hardly on the topic's; `--products 100000 --versions 1` is the bench's table (100,000
items) from a tenth of its events.

    PYTHONPATH=services:. .venv/bin/python -m bench.item_read_ab --against main \
        --products 100000 --versions 1 --rounds 6 --seconds 10 [--spy /tmp/b.txt]
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from bench.harness import (
    Server,
    WrkResult,
    ab_arguments,
    broker_workspace,
    new_product_topic,
    old_tree,
    projector_env,
    serve,
    spy,
    wait_until,
    wrk_measured,
)
from bench.projector_bench import _applied, preload
from catalog_stream.ports import free_port

OLD, NEW = "A", "B"
CONNECTIONS = 32


def _projector(
    stack: ExitStack, bootstrap: str, topic: str, work: Path, name: str, env: dict[str, str]
) -> Server:
    port = free_port()
    store = f"sqlite:///{work / uuid.uuid4().hex[:8]}/views.db"
    command = [sys.executable, "-m", "catalog_stream.cli", "projector"]
    return stack.enter_context(
        serve(
            command,
            port,
            {**projector_env(bootstrap, topic, store, port), **env},
            "/healthz",
            work / f"projector-{name}.log",
        )
    )


def _line(name: str, result: WrkResult, cpu_s: float) -> str:
    return (
        f"{name} {result.rate:.0f}/s p50 {result.p50_ms:.2f} p99 {result.p99_ms:.2f} "
        f"p99.9 {result.p999_ms:.2f} ms, CPU {cpu_s / max(result.requests, 1) * 1e6:.0f} us/req, "
        f"errors {result.errors}"
    )


def _ratios(a: list[float], b: list[float]) -> str:
    each = [y / x for x, y in zip(a, b, strict=True)]
    listed = ", ".join(f"{r:.2f}" for r in each)
    return f"median {statistics.median(each):.2f}x (rounds: {listed})"


def main() -> None:
    parser = ab_arguments(__doc__, products=100_000, versions=1, rounds=6)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's duration per round")
    parser.add_argument("--spy", type=Path, help="py-spy B's last round into this file")
    parser.add_argument("--spy-a", type=Path, help="py-spy A's last round into this file")
    args = parser.parse_args()
    with broker_workspace("item-read-ab-") as (work, bootstrap), ExitStack() as stack:
        old_services = old_tree(args.against, work / "old")
        topic = new_product_topic(bootstrap, "ab.items")
        total = asyncio.run(preload(bootstrap, topic, args.products, args.versions))
        servers: dict[str, Server] = {}
        for name in (OLD, NEW):  # one at a time: a catch-up takes both cores
            env = {"PYTHONPATH": f"{old_services}:{work / 'old'}"} if name == OLD else {}
            server = servers[name] = _projector(stack, bootstrap, topic, work, name, env)
            started = time.perf_counter()
            wait_until(lambda s=server: _applied(s.url) >= total, timeout_s=3600, every_s=0.5)
            print(f"{name} caught up {total} events in {time.perf_counter() - started:.1f}s")
        load = {"BENCH_PRODUCTS": str(args.products)}
        for server in servers.values():  # warm: pages cached, connections open, code loaded
            wrk_measured(server.url, "item", CONNECTIONS, 2, server.pid, load)
        found: dict[str, dict[str, list[float]]] = {
            name: {"rate": [], "p50": [], "p99": [], "cpu_us": []} for name in servers
        }
        for n in range(args.rounds):
            line = [f"round {n}"]
            for name in (OLD, NEW) if n % 2 == 0 else (NEW, OLD):
                server = servers[name]
                into = {OLD: args.spy_a, NEW: args.spy}[name]
                spying = spy(server.pid, into, 250) if into and n == args.rounds - 1 else None
                result, cpu_s = wrk_measured(
                    server.url, "item", CONNECTIONS, args.seconds, server.pid, load
                )
                if spying is not None:
                    spying.send_signal(signal.SIGINT)  # py-spy writes what it has, then ends
                    spying.wait()
                mine = found[name]
                mine["rate"].append(result.rate)
                mine["p50"].append(result.p50_ms)
                mine["p99"].append(result.p99_ms)
                mine["cpu_us"].append(cpu_s / max(result.requests, 1) * 1e6)
                line.append(_line(name, result, cpu_s))
            print("; ".join(line), flush=True)
        print(
            f"{total} events ({args.products} products x {args.versions}), {CONNECTIONS} "
            f"connections, {args.seconds}s rounds; A = {args.against}, B = working tree"
        )
        for name, mine in found.items():
            medians = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in mine.items())
            print(f"{name} medians: {medians}")
        for what in ("rate", "p50", "p99", "cpu_us"):
            print(f"B / A {what}: {_ratios(found[OLD][what], found[NEW][what])}")


if __name__ == "__main__":
    main()
