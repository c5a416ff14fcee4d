"""Process plumbing for the benchmarks: servers, wrk, CPU time and peak memory from /proc, and
what every A/B tool sets up first (a broker in a folder of its own, a revision's tree, a topic)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from catalog_contract import topics
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "load.lua"
TICKS = os.sysconf("SC_CLK_TCK")
PARTITIONS = 6  # the product topic's default (catalog_contract.topics.product_topic)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids.extend(tree(child))
    return pids


def established_inodes(port: int, tables: tuple[str, ...] = ("tcp", "tcp6")) -> set[int]:
    """Socket inodes of the established TCP connections whose local port is `port` (the
    server's side of each client connection), from /proc/net/tcp{,6}."""
    found: set[int] = set()
    for table in tables:
        try:
            lines = (Path("/proc/net") / table).read_text().splitlines()[1:]
        except OSError:
            continue
        found.update(connection_inodes(lines, port))
    return found


def connection_inodes(lines: list[str], port: int) -> set[int]:
    """From /proc/net/tcp lines: the inodes of state 01 (ESTABLISHED) with local port `port`."""
    found = set()
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            found.add(int(fields[9]))
    return found


def connections_per_process(pids: list[int], port: int) -> list[int]:
    """How many of the server's established connections on `port` each process holds."""
    inodes = established_inodes(port)
    counts = []
    for pid in pids:
        held = 0
        try:
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    held += 1
        except OSError:
            pass
        counts.append(held)
    return counts


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children."""
    total = 0.0
    for each in tree(pid):
        try:
            fields = (Path("/proc") / str(each) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def peak_rss_mb(pid: int) -> float:
    """Largest VmHWM (peak resident set) among a process and its children, in MiB."""
    peak = 0
    for each in tree(pid):
        try:
            for line in (Path("/proc") / str(each) / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until(check: Any, timeout_s: float, every_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s}s waiting for {check}")
        time.sleep(every_s)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def serve(
    args: list[str],
    port: int,
    env: dict[str, str],
    ready_path: str = "/healthz",
    log: Path | None = None,
) -> Iterator[Server]:
    """Start a server process, wait until `ready_path` answers 200, stop it at the end."""
    with (log or Path(os.devnull)).open("ab") as output:
        process = subprocess.Popen(args, env={**os.environ, **env}, stdout=output, stderr=output)
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        wait_until(lambda: http_ok(server.url + ready_path), 60)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def operator_receiver(
    env: dict[str, str], workers: int, log: Path
) -> AbstractContextManager[Server]:
    """The receiver as an operator runs it: `catalog-stream receiver` (the server settings of
    receiver.main; with WORKERS above 1 a listening socket each, receiver.listening) on a free
    port, `env` (receiver_env, perhaps a PYTHONPATH) added."""
    port = free_port()
    env = {
        **env,
        "CATALOG_RECEIVER_PORT": str(port),
        "CATALOG_RECEIVER_WORKERS": str(workers),
        "CATALOG_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "catalog_stream.cli", "receiver"]
    return serve(command, port, env, "/readyz", log)


def ab_arguments(
    description: str | None, products: int, versions: int, rounds: int
) -> argparse.ArgumentParser:
    """The arguments of an A/B tool: --against (the revision A is), --products and --versions
    (the preloaded topic: products x versions events), --rounds; these defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--against", metavar="REV", default="main")
    parser.add_argument("--products", type=int, default=products)
    parser.add_argument("--versions", type=int, default=versions)
    parser.add_argument("--rounds", type=int, default=rounds)
    return parser


def spy(pid: int, into: Path, rate: int = 50) -> subprocess.Popen[bytes]:
    """py-spy recording process `pid` (all threads, raw collapsed stacks) into `into`, without
    pausing it; it ends with the process (wait for it before reading `into`)."""
    command = [str(Path(shutil.which("py-spy") or Path(sys.executable).with_name("py-spy"))),
               "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
               "--nonblocking", "--subprocesses", "--output", str(into)]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def broker_workspace(prefix: str) -> Iterator[tuple[Path, str]]:
    """A new temporary folder (named `prefix`...) and a Kafka broker of its own in it (kafka/):
    the folder and the broker's bootstrap servers. At the end the broker stops and the folder,
    with what the run put in it, is removed."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    broker = LocalBroker(work / "kafka", port=free_port(), controller_port=free_port())
    broker.start()
    try:
        yield work, broker.bootstrap_servers
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


def old_tree(revision: str, into: Path) -> Path:
    """services/ and schemas/ of git `revision` (`git archive`) in the new folder `into`: its
    services/. A process of that revision's code has both on its PYTHONPATH."""
    archive = subprocess.run(
        ["git", "archive", revision, "services", "schemas"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "services"


def new_product_topic(bootstrap: str, prefix: str, partitions: int = PARTITIONS) -> str:
    """A product topic of one run's own (`prefix`.<6 hex digits>), created: its name."""
    spec = topics.product_topic(f"{prefix}.{uuid.uuid4().hex[:6]}", partitions=partitions)
    asyncio.run(ensure_all(bootstrap, [spec]))
    return spec.name


def end_offsets(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> dict[int, int]:
    """Partition -> the offset after its last record, of partitions 0 .. `partitions` - 1."""

    async def read() -> dict[int, int]:
        # Committed only, as every consumer of ours (KafkaConnection.consumer_options): the
        # end is then the last stable offset, what the services can reach.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(read())


def receiver_env(bootstrap: str, topic: str, dead_letter_topic: str, secret: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOG_RECEIVER_TOPIC": topic,
        "CATALOG_RECEIVER_DEAD_LETTER_TOPIC": dead_letter_topic,
        "CATALOG_RECEIVER_SECRETS": f'["{secret}"]',
    }


BENCH_ADMIN_TOKEN = secrets.token_urlsafe(24)  # for the projector's /v1/admin/* (rebuild)
ADMIN = {"Authorization": f"Bearer {BENCH_ADMIN_TOKEN}"}


def projector_env(bootstrap: str, topic: str, store_url: str, port: int) -> dict[str, str]:
    """A projector on its own consumer group, ready at any lag (catch-up is what we time)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOG_PROJECTOR_TOPIC": topic,
        "CATALOG_PROJECTOR_STORE_URL": store_url,
        "CATALOG_PROJECTOR_PORT": str(port),
        "CATALOG_PROJECTOR_GROUP_ID": f"bench-{uuid.uuid4().hex[:6]}",
        "CATALOG_PROJECTOR_READY_MAX_LAG": "1000000000",
        "CATALOG_PROJECTOR_ADMIN_TOKEN": BENCH_ADMIN_TOKEN,
    }


def uvicorn(app: str, port: int, workers: int = 1, factory: bool = True) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        *(["--factory"] if factory else []),
    ]


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    wrk_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str, mode: str, connections: int, seconds: int, env: dict[str, str] | None = None
) -> WrkResult:
    """One wrk thread: it needs little CPU, so the server keeps the machine's cores."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
        "--",
        mode,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    out, err = process.communicate()
    line = next((x for x in out.decode().splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out.decode()} {err.decode()}")
    data = json.loads(line[6:])
    errors = data["status_errors"] + data["connect_errors"] + data["timeouts"] + data["read_errors"]
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        p999_ms=data["p999_us"] / 1000,
        wrk_cpu_s=0.0,
    )


def wrk_measured(
    url: str,
    mode: str,
    connections: int,
    seconds: int,
    server_pid: int,
    env: dict[str, str] | None = None,
) -> tuple[WrkResult, float]:
    """Run wrk; return its result (with wrk's own CPU) and the server's CPU seconds meanwhile."""
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = cpu_seconds(server_pid)
    result = wrk(url, mode, connections, seconds, env)
    server_cpu = cpu_seconds(server_pid) - server_before
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.wrk_cpu_s = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    return result, server_cpu
