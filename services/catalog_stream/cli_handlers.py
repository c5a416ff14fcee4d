"""What each `catalog-stream` subcommand does, one handler a subcommand (the parser in
`cli_parser` names them): each takes the parsed arguments and returns the exit code. The
libraries a handler needs are imported inside it, so a command loads only its own."""

from __future__ import annotations

import argparse
import asyncio
import sys
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
    from catalog_stream.cluster import LocalCluster
    from catalog_stream.java_libs import kafka_version
    from catalog_stream.lifetime import interrupt_on_stop_signals, supervise

    interrupt_on_stop_signals()  # SIGTERM stops it like Ctrl-C; a second signal is ignored
    data = Path(args.data_dir)
    cluster = LocalCluster.for_command(data, args.port, args.controller_port, args.nodes)

    def start() -> None:
        cluster.start()
        print(
            f"Apache Kafka {kafka_version()}, {args.nodes} node(s), listening on "
            f"{cluster.bootstrap_servers} (data in {data}); Ctrl-C stops it",
            flush=True,
        )

    return supervise(
        start,
        lambda: all(node.process and node.process.poll() is None for node in cluster.nodes),
        "a Kafka node exited; stopping the others",
        cluster.stop,
    )


def cmd_receiver(args: argparse.Namespace) -> int:
    from receiver.main import run, settings_from_env

    settings = settings_from_env()
    if settings.workers > 1 and not args.worker:
        from catalog_stream.receiver_workers import run_workers

        return run_workers(settings)
    run(settings, shared_port=args.worker)
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
    """--from and --until (BoundError, a UsageError, when one is wrong or they hold nothing)."""
    from catalog_stream.replay_bounds import check_order, parse_bound

    start, stop = parse_bound(args.start, "earliest"), parse_bound(args.until, "now")
    check_order(start, stop)
    return start, stop


def cmd_replay(args: argparse.Namespace) -> int:
    from catalog_stream.replay import replay
    from catalog_stream.sinks import AvroFileSink, JsonLinesSink, Sink
    from catalog_stream.topic_sink import TopicSink

    start, stop = _bounds(args)
    sink: Sink
    try:
        if args.to == "jsonl":
            sink = JsonLinesSink(Path(args.output) if args.output else None)
        elif args.to == "avro":
            if not args.output:
                raise UsageError("--to avro needs --output FILE")
            sink = AvroFileSink(Path(args.output))
        else:
            if not args.target_topic:
                raise UsageError("--to topic needs --target-topic NAME")
            if args.target_topic == args.topic:
                # It would append every record it reads to the topic it is reading.
                raise UsageError(f"--target-topic is the topic being replayed ({args.topic})")
            sink = TopicSink(args.bootstrap_servers, args.target_topic)
    except OSError as exc:
        raise UsageError(f"cannot write --output {args.output}: {exc.strerror}") from exc
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


def cmd_topics_describe(args: argparse.Namespace) -> int:
    from catalog_stream.describe import describe_topic

    print(asyncio.run(describe_topic(args.bootstrap_servers, args.topic)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from catalog_stream.local import run_everything

    return run_everything(args)
