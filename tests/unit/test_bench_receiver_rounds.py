"""The receiver benchmark's interleaved rounds: the order of each round, the medians the table
shows, and the same-round ratios (pure; no server, no wrk)."""

from __future__ import annotations

from bench.harness import connection_inodes
from bench.receiver_bench import BASELINE, ONE
from bench.receiver_rounds import (
    Contender,
    Row,
    median_row,
    medians,
    round_lines,
    round_order,
    round_ratios,
    same_round_lines,
    split_lines,
)


def row(name: str, c: int, rate: float, p99: float = 10.0, errors: int = 0) -> Row:
    return Row(name, c, rate, 1.0, p99, 2 * p99, errors, 0.2, 0.01, 0.1)


def contenders(*names: str) -> list[Contender]:
    return [Contender(n, f"http://x/{n}", "json", i) for i, n in enumerate(names)]


def test_each_round_starts_with_the_next_contender() -> None:
    every = contenders("a", "b", "c")
    assert [c.name for c in round_order(every, 0)] == ["a", "b", "c"]
    assert [c.name for c in round_order(every, 1)] == ["b", "c", "a"]
    assert [c.name for c in round_order(every, 2)] == ["c", "a", "b"]
    assert [c.name for c in round_order(every, 3)] == ["a", "b", "c"]
    assert round_order([], 2) == []


def test_a_median_row_takes_each_figures_median_and_adds_the_errors() -> None:
    got = median_row(
        [row("r", 64, 100.0, 30.0, 1), row("r", 64, 300.0, 10.0), row("r", 64, 200.0, 20.0, 2)]
    )
    assert got == Row("r", 64, 200.0, 1.0, 20.0, 40.0, 3, 0.2, 0.01, 0.1)


def test_medians_keep_one_row_per_contender_and_concurrency_in_first_seen_order() -> None:
    raw = [
        row("a", 16, 10.0),
        row("b", 16, 20.0),
        row("a", 64, 30.0),
        row("b", 16, 40.0),
        row("a", 16, 50.0),
        row("a", 64, 70.0),
    ]
    assert [(r.name, r.connections, r.rate) for r in medians(raw)] == [
        ("a", 16, 30.0),
        ("b", 16, 30.0),
        ("a", 64, 50.0),
    ]


def test_ratios_compare_rows_of_the_same_round_only() -> None:
    # two rounds of (ours, baseline) x (16, 64): the machine sped up 2x between them
    raw = [
        row(ONE, 16, 90.0),
        row(BASELINE, 16, 100.0),
        row(BASELINE, 64, 100.0),
        row(ONE, 64, 110.0),
        row(BASELINE, 16, 200.0),
        row(ONE, 16, 180.0),
        row(ONE, 64, 240.0),
        row(BASELINE, 64, 200.0),
    ]
    assert round_ratios(raw, ONE, BASELINE, per_round=4) == {16: [0.9, 0.9], 64: [1.1, 1.2]}


def test_the_report_lists_every_round_and_the_median_same_round_ratio() -> None:
    extra = {
        "round_count": 2,
        "rounds": [
            {"name": ONE, "connections": 64, "rate": 1234.4, "p99_ms": 20.04},
            {"name": ONE, "connections": 64, "rate": 1000.0, "p99_ms": 25.0},
        ],
        "vs_baseline_by_round": {64: [1.1, 0.95, 1.0]},
    }
    assert round_lines(extra)[-1] == f"| {ONE} | 64 | 1,234/s 20.0 ms; 1,000/s 25.0 ms |"
    assert same_round_lines(extra) == [
        "- receiver (1 worker, JSON) / baseline at c=64, within each round: "
        "median **1.00x** (1.10, 0.95, 1.00)"
    ]


def test_connections_are_counted_from_established_rows_of_the_servers_port() -> None:
    lines = [
        # local 127.0.0.1:8080, ESTABLISHED, inode 111
        "   0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  0  0 111 1",
        # the listening socket (state 0A) is not a connection
        "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 112 1",
        # the client's side of a connection to 8080: local port 50000
        "   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  0  0 113 1",
        "   3: 0100007F:1F90 0100007F:C351 01 00000000:00000000 00:00000000 00000000  0  0 114 1",
    ]
    assert connection_inodes(lines, 8080) == {111, 114}
    assert connection_inodes(lines, 50000) == {113}


def test_the_split_lines_list_each_rounds_connections_per_worker() -> None:
    extra = {"worker_connections": {"receiver, 2 worker(s), JSON, c=64": [[64, 0], [40, 24]]}}
    assert split_lines(extra) == [
        "- connections per worker, receiver, 2 worker(s), JSON, c=64 (each round, halfway): "
        "64/0, 40/24"
    ]
    assert split_lines({}) == []
