"""Freshness at one rate, round after round on one broker (issue #11's "p99 <= 50 ms from 200 to
visible at 1,000 postbacks/s"): each round starts a receiver and a projector on a fresh topic,
as `make bench`'s freshness rows do (bench.freshness_bench), and prints its p50 and p99; the
spread between rounds is the point (one row of `make bench` is one draw).

    PYTHONPATH=services:. .venv/bin/python -m bench.freshness_rounds --rounds 4 --seconds 10
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench import freshness_bench
from bench.projector_bench import SECRET
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=1_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="freshness-rounds-"))
    (work / "logs").mkdir()
    broker = LocalBroker(work / "kafka", port=free_port(), controller_port=free_port(), heap="1g")
    broker.start()
    p99s = []
    try:
        for n in range(args.rounds):
            figures = freshness_bench.run(
                broker.bootstrap_servers, SECRET, args.seconds, work / "logs", (args.rate,)
            )
            p50 = figures[f"freshness_{args.rate}_p50_ms"]
            p99s.append(figures[f"freshness_{args.rate}_p99_ms"])
            print(f"round {n + 1}: p50 {p50:.0f} ms, p99 {p99s[-1]:.0f} ms", flush=True)
    finally:
        broker.stop()
    print(f"p99 median {statistics.median(p99s):.0f} ms over {len(p99s)} rounds; logs in {work}")


if __name__ == "__main__":
    main()
