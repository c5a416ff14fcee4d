"""Same-run A/B of the full rebuild as the bench's "full rebuild" row runs it (issue #11): a git
revision's projector (A) and the working tree's (B), each started as an operator runs it on a
SQLite store of its own and caught up on the same preloaded topic; then rounds of `POST
/v1/admin/rebuild`, timed until done, alternating A and B (the order swaps each round). Beside
the wall time, the CPU time the projector and its worker processes used meanwhile (from
/proc: its own and its reaped children's), which a shared machine disturbs less. Where B's
time goes is read from its logs (`rebuild step`, `rebuild loaded in parts`, the workers'
`rebuild part loaded`); A's too where its revision logs them.

    PYTHONPATH=services:. .venv/bin/python -m bench.rebuild_ab --against main \
        --products 20000 --versions 10 --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.harness import ADMIN, Server, old_tree, projector_env, serve, wait_until
from bench.projector_bench import _applied, preload
from catalog_contract import topics
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all

OLD, NEW = "A", "B"


def cpu_seconds(pid: int) -> float:
    """CPU time of process `pid` and of its children it waited for (the rebuild's workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])  # stat(5): fields 14-17
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def rebuild(server: Server, total: int) -> float:
    # The last rebuild is done once switched; its old generation's retiring ends it (409 until).
    deadline = time.monotonic() + 60
    while (started := _started(server)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if started is None:
        raise RuntimeError("the last rebuild did not end")

    def state() -> Any:
        return httpx.get(server.url + "/v1/admin/rebuild", headers=ADMIN, timeout=10).json()

    wait_until(lambda: state()["state"] != "running", timeout_s=3600, every_s=0.1)
    seconds = time.perf_counter() - started
    status = state()
    if status["state"] != "done" or status["applied"] != total:
        raise RuntimeError(f"rebuild did not complete: {status}")
    return seconds


def _started(server: Server) -> float | None:
    """When the rebuild was asked for, if it started (None: the last one is still ending)."""
    asked = time.perf_counter()
    response = httpx.post(server.url + "/v1/admin/rebuild", headers=ADMIN, timeout=10)
    if response.status_code == 409:
        return None
    response.raise_for_status()
    return asked


def steps(log: Path, since: int) -> tuple[dict[str, float], int]:
    """The rebuild's steps logged after byte `since` of `log` (and where the log ends now)."""
    data = log.read_bytes()
    found: dict[str, float] = {}
    for line in data[since:].splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        msg = entry.get("msg")
        if msg == "rebuild step":
            found[entry["step"]] = entry["seconds"]
        elif msg == "rebuild loaded in parts" and "load_s" in entry:
            found["workers"], found["merge"] = entry["load_s"], entry["merge_s"]
        elif msg == "rebuild part loaded":
            found[f"part {len([k for k in found if k.startswith('part')])}"] = entry["seconds"]
    return found, len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", metavar="REV", default="main")
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--only-new", action="store_true", help="B only (its steps)")
    args = parser.parse_args()
    # Stopped (a timeout), the broker and both projectors are stopped too (`finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="rebuild-ab-"))
    broker = LocalBroker(work / "kafka", port=free_port(), controller_port=free_port())
    broker.start()
    try:
        old_services = old_tree(args.against, work / "old")
        bootstrap = broker.bootstrap_servers
        spec = topics.product_topic(f"ab.rebuild.{uuid.uuid4().hex[:6]}")
        asyncio.run(ensure_all(bootstrap, [spec]))
        total = asyncio.run(preload(bootstrap, spec.name, args.products, args.versions))
        print(f"preloaded {total} events", flush=True)
        names = [NEW] if args.only_new else [OLD, NEW]
        servers: dict[str, Server] = {}
        logs = {name: work / f"projector-{name}.log" for name in names}
        with ExitStack() as stack:
            for name in names:
                port = free_port()
                url = f"sqlite:///{work / name / 'views.db'}"
                env = projector_env(bootstrap, spec.name, url, port)
                if name == OLD:
                    env["PYTHONPATH"] = f"{old_services}:{work / 'old'}"
                command = [".venv/bin/python", "-m", "catalog_stream.cli", "projector"]
                servers[name] = stack.enter_context(
                    serve(command, port, env, "/healthz", logs[name])
                )
            for server in servers.values():
                wait_until(lambda s=server: _applied(s.url) >= total, timeout_s=3600, every_s=0.5)
            print("both caught up", flush=True)
            times: dict[str, list[float]] = {name: [] for name in names}
            cpu: dict[str, list[float]] = {name: [] for name in names}
            ends = {name: logs[name].stat().st_size for name in names}
            for n in range(args.rounds):
                order = names if n % 2 == 0 else names[::-1]
                line = [f"round {n}:"]
                for name in order:
                    used = cpu_seconds(servers[name].pid)
                    times[name].append(rebuild(servers[name], total))
                    cpu[name].append(cpu_seconds(servers[name].pid) - used)
                    found, ends[name] = steps(logs[name], ends[name])
                    shown = ", ".join(f"{k} {v:.1f}" for k, v in found.items())
                    line.append(
                        f"{name} {times[name][-1]:.1f}s, {cpu[name][-1]:.1f}s CPU [{shown}]"
                    )
                print("; ".join(line), flush=True)
        print(f"{total} events, SQLite; A = {args.against}, B = working tree")
        for name, each in times.items():
            listed = ", ".join(f"{t:.1f}" for t in each)
            spent = ", ".join(f"{t:.1f}" for t in cpu[name])
            print(f"{name}: median {statistics.median(each):.1f}s ({listed}); "
                  f"CPU median {statistics.median(cpu[name]):.1f}s ({spent})")  # fmt: skip
        if not args.only_new:
            for what, figures in (("wall", times), ("CPU", cpu)):
                each = [a / b for a, b in zip(figures[OLD], figures[NEW], strict=True)]
                listed = ", ".join(f"{r:.2f}" for r in each)
                print(f"A / B {what}: median {statistics.median(each):.2f}x (rounds: {listed})")
    finally:
        broker.stop()
        for log in work.glob("projector-*.log"):
            shutil.copy(log, Path(tempfile.gettempdir()) / f"rebuild40-{log.name}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
