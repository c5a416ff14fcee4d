"""`catalog-stream run`: the whole system on one machine, for trying it out (`make run`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from catalog_contract import topics as contract_topics
from catalog_stream.cluster import LocalCluster
from catalog_stream.java_libs import kafka_version
from catalog_stream.lifetime import die_with_parent, interrupt_on_stop_signals, stop_all, supervise
from catalog_stream.topic_admin import ensure_all

DEV_SECRET = "dev-secret-change-me"  # noqa: S105 - printed and documented: development only


def _spawn(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "catalog_stream.cli", command],
        env={**os.environ, **env},
        preexec_fn=die_with_parent(),  # a SIGKILLed `run` takes its services along
    )


def run_everything(args: argparse.Namespace) -> int:
    # SIGTERM (a supervisor, `timeout`, `kill`) stops everything like Ctrl-C does, instead of
    # leaving the broker and both services running without their parent.
    interrupt_on_stop_signals()
    data = Path(args.data_dir)
    kafka_dir = data / ("kafka" if args.nodes == 1 else f"kafka-{args.nodes}-nodes")
    controller_port = args.controller_port or args.kafka_port + 1
    broker = LocalCluster.for_command(kafka_dir, args.kafka_port, controller_port, args.nodes)
    children: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        print(f"starting Apache Kafka {kafka_version()} on {args.nodes} node(s) ...", flush=True)
        broker.start()
        replicas = args.replication_factor or min(3, args.nodes)
        specs = contract_topics.contract_topics(args.partitions, replicas)
        for report in asyncio.run(ensure_all(broker.bootstrap_servers, specs)):
            print("\n".join(report.lines()))
        secret = os.environ.get("CATALOG_RECEIVER_SECRETS")
        receiver_env = {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CATALOG_RECEIVER_PORT": str(args.receiver_port),
            "CATALOG_RECEIVER_SECRETS": secret or f'["{DEV_SECRET}"]',
            "CATALOG_RECEIVER_DEV_MODE": "true",
        }
        projector_env = {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CATALOG_PROJECTOR_PORT": str(args.projector_port),
            "CATALOG_PROJECTOR_STORE_URL": os.environ.get(
                "CATALOG_PROJECTOR_STORE_URL", f"sqlite:///{data / 'views.db'}"
            ),
        }
        children.extend((_spawn("receiver", receiver_env), _spawn("projector", projector_env)))
        print(
            f"\nkafka      {broker.bootstrap_servers}\n"
            f"receiver   http://127.0.0.1:{args.receiver_port}/v1/postbacks/product-changes\n"
            f"projector  http://127.0.0.1:{args.projector_port}/v1/catalogs\n"
            + ("" if secret else f"dev secret X-Postback-Token: {DEV_SECRET}\n")
            + "Ctrl-C stops everything.\n",
            flush=True,
        )

    def stop() -> None:
        stop_all(children, 30)
        broker.stop()

    return supervise(
        start,
        lambda: all(child.poll() is None for child in children),
        "a service exited; stopping the rest",
        stop,
    )
