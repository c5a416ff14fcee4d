"""`catalog-stream`: the one command users run. Subcommands:

run                 broker + topics + receiver + projector on embedded defaults (make run)
broker              the local Apache Kafka broker (KRaft) in the foreground
topics ensure       create the contract's topics, or report how existing ones differ
dead-letters        refused postbacks: summary, show REQUEST_ID, redrive [--dry-run]
receiver            the postback receiver (settings: CATALOG_RECEIVER_* variables)
projector           the catalog views and read API (settings: CATALOG_PROJECTOR_* variables)
"""
# The docstring above is the command's `--help` description (build_parser).

from __future__ import annotations

import argparse
import os
from typing import Any

from catalog_contract import topics as contract_topics
from catalog_stream.cli_handlers import (
    cmd_broker,
    cmd_dead_letters,
    cmd_projector,
    cmd_rebuild,
    cmd_receiver,
    cmd_replay,
    cmd_run,
    cmd_topics_describe,
    cmd_topics_ensure,
)


def _add_bounds(parser: argparse.ArgumentParser) -> None:
    """--from / --until, the same for every command that reads a range of a topic."""
    parser.add_argument(
        "--from",
        dest="start",
        default="earliest",
        help="earliest, an ISO-8601 time, or partition:offset[,partition:offset]",
    )
    parser.add_argument(
        "--until",
        default="now",
        help="now, an ISO-8601 time, or partition:offset[,...] (exclusive)",
    )


def _add_dead_letter_commands(commands: Any, bootstrap: str) -> None:
    group = commands.add_parser(
        "dead-letters", help="refused postbacks: summary, show, redrive (same bounds as replay)"
    )
    actions = group.add_subparsers(dest="dead_letters_command", required=True)
    summary = actions.add_parser("summary", help="counts by status, kind, field and problem")
    show = actions.add_parser("show", help="one refused request in full")
    show.add_argument("request_id", help="as in the refusal's answer (request_id)")
    redrive = actions.add_parser(
        "redrive", help="publish what today's parsing, mapping and validation accept"
    )
    redrive.add_argument("--dry-run", action="store_true", help="report, write nothing")
    redrive.add_argument(
        "--product-topic",
        help="where events go (default: CATALOG_RECEIVER_TOPIC or the contract's)",
    )
    for action in (summary, show, redrive):
        action.add_argument("--bootstrap-servers", default=bootstrap)
        action.add_argument(
            "--topic",
            help="the dead-letter topic (default: CATALOG_RECEIVER_DEAD_LETTER_TOPIC or the "
            "contract's)",
        )
        _add_bounds(action)
        action.add_argument("--json", action="store_true", help="JSON instead of text")
        action.set_defaults(handler=cmd_dead_letters)


def _add_topic_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--partitions", type=int, default=int(os.environ.get("CATALOG_TOPIC_PARTITIONS", "6"))
    )
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=int(os.environ.get("CATALOG_TOPIC_REPLICATION_FACTOR", "0")) or None,
        help="default: 1, or min(3, nodes) for `run`",
    )


def build_parser() -> argparse.ArgumentParser:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    parser = argparse.ArgumentParser(
        prog="catalog-stream",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="broker, receiver and projector together")
    run.add_argument("--data-dir", default=".state")
    run.add_argument("--kafka-port", type=int, default=9092)
    run.add_argument(
        "--controller-port", type=int, help="with one node (default: --kafka-port + 1)"
    )
    run.add_argument("--receiver-port", type=int, default=8080)
    run.add_argument("--projector-port", type=int, default=8081)
    run.add_argument("--nodes", type=int, default=1, help="Kafka nodes (3: RF 3, min ISR 2)")
    _add_topic_args(run)
    run.set_defaults(handler=cmd_run)

    broker = commands.add_parser("broker", help="the local Apache Kafka broker")
    broker.add_argument("--data-dir", default=".state/kafka")
    broker.add_argument("--port", type=int, default=9092)
    broker.add_argument("--controller-port", type=int, default=9093, help="with one node")
    broker.add_argument(
        "--nodes", type=int, default=1, help="a cluster: node i on --port + 2i (+1: controller)"
    )
    broker.set_defaults(handler=cmd_broker)

    topics = commands.add_parser("topics", help="the contract's topics")
    topic_commands = topics.add_subparsers(dest="topics_command", required=True)
    ensure = topic_commands.add_parser("ensure", help="create, or report differences")
    ensure.add_argument("--bootstrap-servers", default=bootstrap)
    _add_topic_args(ensure)
    ensure.set_defaults(handler=cmd_topics_ensure)
    describe = topic_commands.add_parser(
        "describe", help="partitions, offsets, configs, groups' lag"
    )
    describe.add_argument("--bootstrap-servers", default=bootstrap)
    describe.add_argument("--topic", default=contract_topics.PRODUCT_TOPIC)
    describe.set_defaults(handler=cmd_topics_describe)

    rebuild = commands.add_parser(
        "rebuild", help="rebuild the views with no downtime, showing progress"
    )
    rebuild.add_argument("--projector", default="http://127.0.0.1:8081", help="the projector's URL")
    rebuild.add_argument("--poll-s", type=float, default=0.5)
    rebuild.set_defaults(handler=cmd_rebuild)

    replay = commands.add_parser("replay", help="read the topic between two bounds into a sink")
    replay.add_argument("--bootstrap-servers", default=bootstrap)
    replay.add_argument("--topic", default=contract_topics.PRODUCT_TOPIC)
    _add_bounds(replay)
    replay.add_argument(
        "--catalog", action="append", default=[], help="only this catalog (repeatable)"
    )
    replay.add_argument("--to", choices=["jsonl", "avro", "topic"], default="jsonl")
    replay.add_argument("--output", help="file for jsonl (default: stdout) or avro")
    replay.add_argument("--target-topic", help="for --to topic")
    replay.set_defaults(handler=cmd_replay)

    _add_dead_letter_commands(commands, bootstrap)

    receiver = commands.add_parser("receiver", help="the postback receiver")
    # One of CATALOG_RECEIVER_WORKERS processes (catalog_stream.receiver_workers starts them).
    receiver.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    receiver.set_defaults(handler=cmd_receiver)
    commands.add_parser("projector", help="the views and read API").set_defaults(
        handler=cmd_projector
    )
    return parser
