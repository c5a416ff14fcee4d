"""The receiver benchmark's rows and their rounds: pure bookkeeping (no server, no wrk). Each
row is taken in several interleaved rounds (bench/receiver_bench.py); the table shows each
figure's median, and the rounds, the same-round ratios and the workers' connections are listed."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True)
class Contender:
    """One row family of the table: a server that is up for the whole comparison, and the body
    format wrk posts to it."""

    name: str
    url: str
    mode: str
    pid: int
    workers: int = 1  # above 1: how the connections spread over the workers is recorded


def round_order(contenders: list[Contender], round_no: int) -> list[Contender]:
    """Each round starts with the next contender, so none is always measured first or right
    after the same neighbour (the machine's drift and a neighbour's after-effects fall on all)."""
    shift = round_no % max(1, len(contenders))
    return contenders[shift:] + contenders[:shift]


def median_row(samples: list[Row]) -> Row:
    """One row from a contender's rounds at one concurrency: each figure's median (the errors
    added up: one error in any round is shown)."""
    first = samples[0]

    def mid(pick: Callable[[Row], float]) -> float:
        return statistics.median(pick(s) for s in samples)

    return Row(
        first.name,
        first.connections,
        mid(lambda r: r.rate),
        mid(lambda r: r.p50_ms),
        mid(lambda r: r.p99_ms),
        mid(lambda r: r.p999_ms),
        sum(s.errors for s in samples),
        mid(lambda r: r.cpu_per_1000),
        mid(lambda r: r.broker_cpu_per_1000),
        mid(lambda r: r.wrk_cpu_share),
    )


def medians(raw: list[Row]) -> list[Row]:
    """The table's rows: per (contender, concurrency) in first-seen order, the median row."""
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in raw:
        groups.setdefault((row.name, row.connections), []).append(row)
    return [median_row(samples) for samples in groups.values()]


def round_ratios(raw: list[Row], ours: str, other: str, per_round: int) -> dict[int, list[float]]:
    """Per concurrency, `ours`' rate over `other`'s within each round (`per_round` rows make a
    round): the ratio without the drift between rounds."""
    ratios: dict[int, list[float]] = {}
    for start in range(0, len(raw), per_round):
        chunk = raw[start : start + per_round]
        for row in chunk:
            if row.name != ours:
                continue
            peer = next(
                (r for r in chunk if r.name == other and r.connections == row.connections), None
            )
            if peer is not None and peer.rate > 0:
                ratios.setdefault(row.connections, []).append(row.rate / peer.rate)
    return ratios


def same_round_lines(extra: dict[str, Any]) -> list[str]:
    """The receiver over the baseline within each round, per concurrency (median and range)."""
    lines = []
    for c, ratios in sorted(extra["vs_baseline_by_round"].items()):
        listed = ", ".join(f"{x:.2f}" for x in ratios)
        lines.append(
            f"- receiver (1 worker, JSON) / baseline at c={c}, within each round: "
            f"median **{statistics.median(ratios):.2f}x** ({listed})"
        )
    return lines


def split_lines(extra: dict[str, Any]) -> list[str]:
    """How the client connections spread over the workers of each several-worker row: uvicorn's
    workers share one listening socket, and one worker can take a whole burst of connections."""
    return [
        f"- connections per worker, {row} (each round, halfway): "
        + ", ".join("/".join(str(n) for n in split) for split in splits)
        for row, splits in extra.get("worker_connections", {}).items()
    ]


def round_lines(extra: dict[str, Any]) -> list[str]:
    """Every round's row as measured (postbacks/s, p99 ms), a line per server and concurrency."""
    series: dict[tuple[str, int], list[str]] = {}
    for row in extra["rounds"]:
        series.setdefault((row["name"], row["connections"]), []).append(
            f"{row['rate']:,.0f}/s {row['p99_ms']:.1f} ms"
        )
    lines = [
        f"Every round ({extra['round_count']}), in the order taken: postbacks/s and p99:",
        "",
        "| server | connections | rounds |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| {name} | {c} | {'; '.join(each)} |" for (name, c), each in series.items()]
    return lines
