"""A profile of the working tree's receiver alone (1 worker, JSON, wrk at one concurrency) on a
broker of its own: bench.receiver_profile's groups, then the functions that hold the most
samples, by own time (innermost frame) and by time under them (any frame), so a step's cost can
be found inside its group. For finding what to change; the figures to keep a change by come
from the interleaved A/B (bench.receiver_ab). Run:
`PYTHONPATH=services:. .venv/bin/python -m bench.receiver_spy --connections 64 --seconds 10`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from bench.harness import operator_receiver, receiver_env, wrk_measured
from bench.receiver_bench import PATH, SECRET
from bench.receiver_profile import ORDER, profiled, summarise
from catalog_contract import topics
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all


def frames(raw: str) -> tuple[Counter[str], Counter[str]]:
    """Samples per function: as the innermost frame (own), and anywhere in the stack (under)."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not (stack and count.isdigit()):
            continue
        names = [f.rsplit(":", 1)[0] + ")" if ":" in f else f for f in stack.split(";")]
        own[names[-1]] += int(count)
        for name in set(names):
            under[name] += int(count)
    return own, under


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="write py-spy's raw output here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="receiver-spy-") as tmp:
        work = Path(tmp)
        broker = LocalBroker(work / "kafka", port=free_port(), controller_port=free_port())
        broker.start()
        try:
            ours = topics.product_topic(f"spy.receiver.{uuid.uuid4().hex[:6]}")
            dead = topics.dead_letter_topic(f"spy.dead.{uuid.uuid4().hex[:6]}")
            asyncio.run(ensure_all(broker.bootstrap_servers, [ours, dead]))
            env = receiver_env(broker.bootstrap_servers, ours.name, dead.name, SECRET)
            with operator_receiver(env, 1, work / "receiver.log") as server:
                url, pid = server.url + PATH, server.pid
                secret = {"BENCH_SECRET": SECRET}
                wrk_measured(url, "json", args.connections, 3, pid, secret)  # warm up
                (result, cpu), raw = profiled(
                    pid,
                    work / "spy.txt",
                    lambda: wrk_measured(url, "json", args.connections, args.seconds, pid, secret),
                )
        finally:
            broker.stop()
    if args.keep:
        args.keep.write_text(raw)
    groups = summarise(raw)
    samples = sum(groups.values())
    per_us = cpu / max(1, result.requests) * 1e6
    print(
        f"c={args.connections}: {result.rate:.0f}/s, p99 {result.p99_ms:.1f} ms, "
        f"errors {result.errors}, {samples} samples, {per_us:.0f} µs CPU/postback"
    )
    for name in ORDER:
        share = groups[name] / max(1, samples)
        print(f"  {name:30} {share:6.1%} {share * per_us:6.0f} µs")
    own, under = frames(raw)
    for title, counts in (("own", own), ("under", under)):
        print(f"top by {title} samples (µs/postback):")
        for name, n in counts.most_common(args.top):
            print(f"  {n / samples * per_us:6.1f}  {name}")


if __name__ == "__main__":
    main()
