"""`catalog-stream`: the one command users run. Subcommands:

run                 broker + topics + receiver + projector on embedded defaults (make run)
broker              the local Apache Kafka broker (KRaft) in the foreground
topics ensure       create the contract's topics, or report how existing ones differ
dead-letters        refused postbacks: summary, show REQUEST_ID, redrive [--dry-run]
receiver            the postback receiver (settings: CATALOG_RECEIVER_* variables)
projector           the catalog views and read API (settings: CATALOG_PROJECTOR_* variables)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog_contract import topics as contract_topics
from catalog_stream.errors import CatalogStreamError, UsageError

if TYPE_CHECKING:
    from catalog_stream.replay_bounds import Bound
    from receiver.settings import ReceiverSettings


def _topic_specs(args: argparse.Namespace) -> list[contract_topics.TopicSpec]:
    return contract_topics.contract_topics(args.partitions, args.replication_factor or 1)


def cmd_topics_ensure(args: argparse.Namespace) -> int:
    from catalog_stream.topic_admin import ensure_all

    reports = asyncio.run(ensure_all(args.bootstrap_servers, _topic_specs(args)))
    for report in reports:
        print("\n".join(report.lines()))
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    import signal

    from catalog_stream.broker import kafka_version
    from catalog_stream.cluster import LocalCluster
    from catalog_stream.lifetime import signals_deferred

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it like Ctrl-C
    data = Path(args.data_dir)
    cluster = LocalCluster.for_command(data, args.port, args.controller_port, args.nodes)
    try:
        cluster.start()
        print(
            f"Apache Kafka {kafka_version()}, {args.nodes} node(s), listening on "
            f"{cluster.bootstrap_servers} (data in {data}); Ctrl-C stops it",
            flush=True,
        )
        while all(node.process and node.process.poll() is None for node in cluster.nodes):
            time.sleep(0.5)
        print("a Kafka node exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        with signals_deferred():
            cluster.stop()


def cmd_receiver(_: argparse.Namespace) -> int:
    from receiver.main import run

    run()
    return 0


def cmd_projector(_: argparse.Namespace) -> int:
    from projector.main import run

    run()
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from catalog_stream.rebuild import rebuild

    rebuild(args.projector, args.poll_s)
    return 0


def _bounds(args: argparse.Namespace) -> tuple[Bound, Bound]:
    """--from and --until (BoundError, a UsageError, when one is wrong)."""
    from catalog_stream.replay_bounds import parse_bound

    return parse_bound(args.start, "earliest"), parse_bound(args.until, "now")


def cmd_replay(args: argparse.Namespace) -> int:
    from catalog_stream.replay import replay
    from catalog_stream.sinks import AvroFileSink, JsonLinesSink, Sink, TopicSink

    start, stop = _bounds(args)
    sink: Sink
    if args.to == "jsonl":
        sink = JsonLinesSink(Path(args.output) if args.output else None)
    elif args.to == "avro":
        if not args.output:
            raise UsageError("--to avro needs --output FILE")
        sink = AvroFileSink(Path(args.output))
    else:
        if not args.target_topic:
            raise UsageError("--to topic needs --target-topic NAME")
        sink = TopicSink(args.bootstrap_servers, args.target_topic)
    summary = asyncio.run(
        replay(args.bootstrap_servers, args.topic, start, stop, set(args.catalog), sink)
    )
    print("\n".join(summary.lines()), file=sys.stderr)
    return 0


def _receiver_settings(args: argparse.Namespace) -> ReceiverSettings:
    """The receiver's configuration from the environment, as the receiver reads it (field map,
    topics); a command needs no ingest secret, hence dev_mode (it only waives that check)."""
    from receiver.settings import ReceiverSettings

    return ReceiverSettings(dev_mode=True, bootstrap_servers=args.bootstrap_servers)


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from catalog_stream import dead_letter_commands as commands
    from catalog_stream import dead_letter_report as report

    start, stop = _bounds(args)
    settings = _receiver_settings(args)
    topic = args.topic or settings.dead_letter_topic
    out: dict[str, Any]
    if args.dead_letters_command == "summary":
        summary = asyncio.run(commands.summarize(args.bootstrap_servers, topic, start, stop))
        out, lines = summary.as_dict(), summary.lines()
    elif args.dead_letters_command == "show":
        letter, tallies = asyncio.run(
            commands.find(args.bootstrap_servers, topic, args.request_id, start, stop)
        )
        if letter is None:
            raise CatalogStreamError(f"no dead letter {args.request_id!r} in {topic}")
        out, lines = report.show_dict(letter, tallies), report.show_lines(letter, tallies)
    else:
        topics = commands.Topics(topic, args.product_topic or settings.topic)
        outcome = asyncio.run(
            commands.redrive(args.bootstrap_servers, topics, start, stop, settings, args.dry_run)
        )
        out, lines = outcome.as_dict(), outcome.lines()
    print(report.render(out, lines, args.json))
    return 0


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


def cmd_topics_describe(args: argparse.Namespace) -> int:
    from catalog_stream.describe import describe_topic

    print(asyncio.run(describe_topic(args.bootstrap_servers, args.topic)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from catalog_stream.local import run_everything

    return run_everything(args)


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

    commands.add_parser("receiver", help="the postback receiver").set_defaults(handler=cmd_receiver)
    commands.add_parser("projector", help="the views and read API").set_defaults(
        handler=cmd_projector
    )
    return parser


def exit_code(exc: CatalogStreamError) -> int:
    """The one place a failed command's exit code is decided: 2 for a command-line value it
    cannot use, 75 (EX_TEMPFAIL) when running it again later may work, else 1."""
    if isinstance(exc, UsageError):
        return 2
    return 75 if exc.retryable else 1


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ValidationError as exc:  # e.g. KAFKA_SECURITY_PROTOCOL=SASL_SSL without a username
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    except CatalogStreamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    return code


if __name__ == "__main__":
    sys.exit(main())
