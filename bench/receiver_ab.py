"""Same-run A/B of the receiver: the working tree against a git revision and the naive baseline,
in interleaved rounds (bench.receiver_bench.interleaved), on a broker of its own.

Each side runs as an operator runs it (`catalog-stream receiver`, one worker); the revision's
services/ and schemas/ come from `git archive`. On a shared machine rates swing between rounds,
so what it prints are ratios within each round (`bench.receiver_rounds.round_ratios`), their
median, and each side's median row. Run:
`PYTHONPATH=services:. .venv/bin/python -m bench.receiver_ab --against main --rounds 6`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

from bench.harness import ROOT, Server, old_tree, operator_receiver, receiver_env, serve, uvicorn
from bench.receiver_bench import PATH, SECRET, interleaved
from bench.receiver_rounds import Contender, Row, medians, round_ratios
from catalog_contract import topics
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all

NEW, OLD, BASELINE = "working tree", "revision", "baseline"


def ratio_lines(raw: list[Row], per_round: int) -> list[str]:
    """Per concurrency: the working tree's rate over the revision's and the baseline's, within
    each round, and the median of those."""
    lines = []
    for other in (OLD, BASELINE):
        for c, ratios in round_ratios(raw, NEW, other, per_round).items():
            each = ", ".join(f"{r:.2f}" for r in ratios)
            median = statistics.median(ratios)
            lines.append(f"{NEW} / {other}, c={c}: median {median:.2f}x (rounds: {each})")
    return lines


def row_line(row: Row) -> str:
    return (
        f"{row.name:14} c={row.connections:<4} {row.rate:8.0f}/s p50 {row.p50_ms:6.1f} "
        f"p99 {row.p99_ms:7.1f} ms, CPU s/1000 {row.cpu_per_1000:.3f}, errors {row.errors}"
    )


def run(revision: str, connections: list[int], rounds: int, seconds: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="receiver-ab-") as tmp:
        work = Path(tmp)
        old_services = old_tree(revision, work / "old")
        broker = LocalBroker(
            work / "kafka", port=free_port(), controller_port=free_port(), heap="1g"
        )
        broker.start()
        try:
            bootstrap = broker.bootstrap_servers
            ours = topics.product_topic(f"ab.receiver.{uuid.uuid4().hex[:6]}")
            dead = topics.dead_letter_topic(f"ab.dead.{uuid.uuid4().hex[:6]}")
            base = topics.product_topic(f"ab.baseline.{uuid.uuid4().hex[:6]}")
            asyncio.run(ensure_all(bootstrap, [ours, dead, base]))
            with ExitStack() as stack:

                def receiver(name: str, pythonpath: str | None) -> Server:
                    env = receiver_env(bootstrap, ours.name, dead.name, SECRET)
                    if pythonpath is not None:
                        env["PYTHONPATH"] = pythonpath
                    log = work / f"{name.replace(' ', '-')}.log"
                    return stack.enter_context(operator_receiver(env, 1, log))

                port = free_port()
                naive = stack.enter_context(
                    serve(
                        uvicorn("bench.apps:baseline_app", port),
                        port,
                        {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "BENCH_TOPIC": base.name},
                        "/docs",
                    )
                )
                old = receiver(OLD, f"{old_services}:{ROOT}")
                new = receiver(NEW, None)
                contenders = [
                    Contender(BASELINE, naive.url + PATH, "json", naive.pid),
                    Contender(OLD, old.url + PATH, "json", old.pid),
                    Contender(NEW, new.url + PATH, "json", new.pid),
                ]
                pid = broker.process.pid if broker.process else 0
                return interleaved(contenders, connections, rounds, seconds, pid)
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", metavar="REV", default="main")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", default="64", help="comma-separated, e.g. 16,64")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    raw = run(args.against, connections, args.rounds, args.seconds)
    rounds = f"{args.rounds} interleaved rounds of {args.seconds} s"
    print(f"{OLD} = {args.against}; medians of {rounds}")
    for row in medians(raw):
        print(row_line(row))
    for line in ratio_lines(raw, 3 * len(connections)):
        print(line)


if __name__ == "__main__":
    main()
