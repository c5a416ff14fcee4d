"""Same-run A/B of the projector's catch-up (issue #11): a git revision's projector (A) and the
working tree's (B), each as an operator runs it (`catalog-stream projector`, bench.projector_bench
.catch_up), started on an empty store against the same preloaded topic, in interleaved rounds
(the order alternates), with the raw consume + decode ceiling measured in every round too.
A's services/ and schemas/ come from `git archive`. Optionally py-spy records B in one round.

    PYTHONPATH=services:. .venv/bin/python -m bench.projector_catchup_ab --against main \
        --products 20000 --versions 10 --rounds 3 [--postgres] [--spy /tmp/b.txt]
"""

from __future__ import annotations

import asyncio
import statistics
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.postgres import LocalPostgres

from bench.harness import Server, ab_arguments, broker_workspace, new_product_topic, old_tree, spy
from bench.projector_bench import catch_up, preload, raw_decode_rate
from bench.rebuild_ab import cpu_seconds
from catalog_stream.ports import free_port

OLD, NEW = "A revision", "B working tree"


@contextmanager
def _postgres(work: Path) -> Iterator[Callable[[], str]]:
    server = LocalPostgres(work / "pg", free_port())
    server.start()
    try:
        yield lambda: server.create_database(f"ab_{uuid.uuid4().hex[:8]}")
    finally:
        server.stop()


def _spy(into: Path) -> Callable[[Server], object]:
    """Start py-spy on the server; it ends with the process."""
    return lambda server: spy(server.pid, into)


def ratios(a: list[float], b: list[float]) -> str:
    each = [y / x for x, y in zip(a, b, strict=True)]
    listed = ", ".join(f"{r:.2f}" for r in each)
    return f"median {statistics.median(each):.2f}x (rounds: {listed})"


def main() -> None:
    parser = ab_arguments(__doc__, products=20_000, versions=10, rounds=3)
    parser.add_argument("--postgres", action="store_true", help="into PostgreSQL, not SQLite")
    parser.add_argument("--spy", type=Path, help="py-spy B's last round into this file")
    parser.add_argument("--only-new", action="store_true", help="B only (a profile)")
    parser.add_argument("--env-b", action="append", default=[], help="KEY=VALUE, B only")
    args = parser.parse_args()
    with broker_workspace("catchup-ab-") as (work, bootstrap):
        work.chmod(0o711)  # PostgreSQL runs as its own user (tests/postgres.py): let it reach pg/
        old_services = old_tree(args.against, work / "old")
        topic = new_product_topic(bootstrap, "ab.catchup")
        total = asyncio.run(preload(bootstrap, topic, args.products, args.versions))
        print(f"preloaded {total} events", flush=True)
        rates: dict[str, list[float]] = {OLD: [], NEW: []}
        raws: list[float] = []
        with _postgres(work) if args.postgres else _no_postgres(work) as store_url:
            for n in range(args.rounds):
                raws.append(asyncio.run(raw_decode_rate(bootstrap, topic, total)))
                order = [NEW] if args.only_new else ([OLD, NEW] if n % 2 == 0 else [NEW, OLD])
                line = [f"round {n}: raw {raws[-1]:.0f}/s"]
                for name in order:
                    env = (
                        dict(e.split("=", 1) for e in args.env_b)
                        if name == NEW
                        else {"PYTHONPATH": f"{old_services}:{work / 'old'}"}
                    )
                    spy = args.spy and name == NEW and n == args.rounds - 1
                    figures = catch_up(bootstrap, topic, store_url(), total, work,
                                       f"{name[0]}{n}", _cpu, env,
                                       _spy(args.spy) if spy else None)  # fmt: skip
                    rates[name].append(figures["rate"])
                    line.append(
                        f"{name[0]} {figures['rate']:.0f}/s ({figures['seconds']:.1f}s, "
                        f"{figures['rate'] / raws[-1]:.0%} of raw, CPU {figures['cpu_s']:.1f}s, "
                        f"RSS {figures['peak_rss_mb']:.0f} MiB)"
                    )
                print("; ".join(line), flush=True)
        store = "PostgreSQL" if args.postgres else "SQLite"
        print(f"{total} events into {store}; A = {args.against}, B = working tree")
        print(f"raw median {statistics.median(raws):.0f}/s")
        for name, each in rates.items():
            if each:
                share = statistics.median(r / raw for r, raw in zip(each, raws, strict=False))
                print(f"{name}: median {statistics.median(each):.0f}/s, {share:.0%} of raw")
        if rates[OLD]:
            print(f"B / A: {ratios(rates[OLD], rates[NEW])}")


def _cpu(server: Server) -> dict[str, float]:
    """The projector's CPU time, its reaped children's (a first catch-up's workers) included:
    on a machine shared with other work, less disturbed than its wall time."""
    return {"cpu_s": cpu_seconds(server.pid)}


@contextmanager
def _no_postgres(work: Path) -> Iterator[Callable[[], str]]:
    yield lambda: f"sqlite:///{work / uuid.uuid4().hex[:8]}/views.db"


if __name__ == "__main__":
    main()
