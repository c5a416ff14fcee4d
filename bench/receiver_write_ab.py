"""The receiver's HTTP server alone, answering in two socket writes (uvicorn's protocol, as
before receiver.one_write) against one: a stub app that reads the postback body and answers as
the POST route does (its 200's start and body messages), under each protocol, in its own
uvicorn process (uvloop, httptools, the receiver's server settings), with wrk posting the
benchmark's bodies at one concurrency in interleaved rounds. No Kafka, so the server's CPU per
request is mostly what the protocol changes. Run:
`PYTHONPATH=services:. .venv/bin/python -m bench.receiver_write_ab --rounds 6`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

import uvicorn
from starlette.types import Receive, Scope, Send

from bench.harness import serve, wrk_measured
from catalog_stream.broker import free_port
from receiver.one_write import one_write
from runtime_support.header_deadline import header_deadline

BODY = b'{"event_id":"7d0f3c1e-8f7b-5b9e-9a51-0c2f1e4b6a77","topic":"catalog.products",' + (
    b'"partition":1,"offset":123456,"position":"1:123456"}'
)
HEADERS = [(b"content-length", b"%d" % len(BODY)), (b"content-type", b"application/json")]
PROTOCOLS = {"two writes": header_deadline, "one write": one_write}


async def stub(scope: Scope, receive: Receive, send: Send) -> None:
    """The POST route's answer without its flow: the body read to its end, then the 200."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def summary(two: list[float], one: list[float]) -> str:
    """Each side's median server CPU per request, and one over two within each round."""
    ratios = [a / b for a, b in zip(one, two, strict=True)]
    return (
        f"server CPU µs/request, medians: two writes {statistics.median(two):.1f}, one write "
        f"{statistics.median(one):.1f}; one / two per round: "
        + ", ".join(f"{r:.3f}" for r in ratios)
        + f" (median {statistics.median(ratios):.3f})"
    )


def user_system_s(pid: int) -> tuple[float, float]:
    """A process's user and system CPU seconds (/proc/PID/stat)."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def serve_stub(protocol: str, port: int) -> None:
    config = uvicorn.Config(
        stub,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        http=PROTOCOLS[protocol](15.0),
        proxy_headers=False,
    )
    uvicorn.Server(config).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--serve", choices=list(PROTOCOLS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_stub(args.serve, args.port)
        return
    cpu_us: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
    with ExitStack() as stack:
        servers = {}
        for name in PROTOCOLS:
            port = free_port()
            command = [sys.executable, "-m", "bench.receiver_write_ab", "--serve", name]
            servers[name] = stack.enter_context(
                serve([*command, "--port", str(port)], port, {}, "/healthz")
            )
        for n in range(args.rounds):
            names = list(PROTOCOLS) if n % 2 == 0 else list(reversed(PROTOCOLS))
            for name in names:
                server = servers[name]
                user, system = user_system_s(server.pid)
                result, cpu = wrk_measured(
                    server.url + "/", "json", args.connections, args.seconds, server.pid
                )
                user_after, system_after = user_system_s(server.pid)
                per = 1e6 / result.requests
                cpu_us[name].append(cpu * per)
                print(
                    f"  round {n + 1}/{args.rounds} {name:10} {result.rate:7.0f}/s "
                    f"p99 {result.p99_ms:6.1f} ms, server CPU {cpu_us[name][-1]:.1f} µs/request "
                    f"(user {(user_after - user) * per:.1f}, system "
                    f"{(system_after - system) * per:.1f})",
                    flush=True,
                )
    print(summary(cpu_us["two writes"], cpu_us["one write"]))


if __name__ == "__main__":
    main()
