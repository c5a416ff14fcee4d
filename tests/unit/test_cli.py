"""Exit codes of `catalog-stream` commands: every command error derives from the package's one
root, and cli decides the code in one place (2 usage, 75 try again later, 1 otherwise)."""

from __future__ import annotations

import gc
import importlib
import inspect
import pkgutil
import socket

import pytest

import catalog_stream
from catalog_stream.broker import BrokerError
from catalog_stream.cli import exit_code, main
from catalog_stream.errors import CatalogStreamError, UsageError
from catalog_stream.ranges import RangeError
from catalog_stream.replay_bounds import BoundError
from catalog_stream.topic_admin import TopicsError


def test_every_exception_of_the_package_derives_from_its_root() -> None:
    found = []
    for module in pkgutil.iter_modules(catalog_stream.__path__, "catalog_stream."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("catalog_stream."):
                found.append(cls)
    assert {cls.__name__ for cls in found} >= {
        "BrokerError",
        "FetchError",
        "TopicsError",
        "RangeError",
    }
    assert [cls for cls in found if not issubclass(cls, CatalogStreamError)] == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CatalogStreamError("no dead letter 'x'"), 1),
        (CatalogStreamError("projector did not answer", retryable=True), 75),
        (UsageError("--to avro needs --output FILE"), 2),
        (BoundError("'x' is not partition:offset"), 2),
        (TopicsError("broker did not answer", retryable=True), 75),
        (TopicsError("creating failed", retryable=False), 1),
        (BrokerError("port 9092 is already in use"), 1),
        (RangeError("topic 'x' does not exist"), 1),
    ],
)
def test_exit_code(error: CatalogStreamError, code: int) -> None:
    assert exit_code(error) == code


NO_KAFKA = "127.0.0.1:1"  # nothing listens: a command that got as far as Kafka fails there


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "--from", "0:x"], "error: '0:x' is not partition:offset"),
        (["replay", "--to", "avro"], "error: --to avro needs --output FILE"),
        (["replay", "--to", "topic"], "error: --to topic needs --target-topic NAME"),
        # Found by the stop-24 attack: each of these wrote a traceback, or (the last) appended
        # every record of the product topic to the product topic itself.
        (
            ["replay", "--bootstrap-servers", NO_KAFKA, "--output", "/nonexistent-dir/o.jsonl"],
            "error: cannot write --output /nonexistent-dir/o.jsonl: ",
        ),
        (
            ["replay", "--bootstrap-servers", NO_KAFKA, "--to", "avro", "--output", "/"],
            "error: cannot write --output /: ",
        ),
        (
            [
                *("replay", "--bootstrap-servers", NO_KAFKA, "--to", "topic"),
                *("--target-topic", "catalog.product-changes.v1"),
            ],
            "error: --target-topic is the topic being replayed",
        ),
        (
            [
                *("replay", "--bootstrap-servers", NO_KAFKA, "--topic", "t"),
                *("--to", "topic", "--target-topic", "t"),
            ],
            "error: --target-topic is the topic being replayed",
        ),
        (["dead-letters", "summary", "--until", "later"], "error: "),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_unreachable_projector_is_worth_retrying(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert main(["rebuild", "--projector", f"http://127.0.0.1:{port}"]) == 75
    assert capsys.readouterr().err.startswith("error: cannot reach the projector at ")


def test_a_replay_that_cannot_reach_kafka_closes_its_consumer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Found by the stop-24 attack: "Unclosed AIOKafkaConsumer" after the error (strict pytest
    turns the unraisable warning into a failure)."""
    assert main(["replay", "--bootstrap-servers", NO_KAFKA]) == 1
    assert "error: cannot reach Kafka at 127.0.0.1:1" in capsys.readouterr().err
    gc.collect()
