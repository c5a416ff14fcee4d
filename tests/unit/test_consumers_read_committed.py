"""Every consumer of the project reads committed records only, by one rule: the connection's
consumer_options (tests/integration/test_aborted_transactions.py shows why, on a real broker).
Both tests fail on the code before (no consumer_options; every consumer took client_options,
and aiokafka's default isolation level, read_uncommitted)."""

from __future__ import annotations

import ast
from pathlib import Path

from catalog_contract.kafka_connection import KafkaConnection

SERVICES = Path(__file__).resolve().parents[2] / "services"


def test_consumer_options_are_the_client_options_reading_committed_records() -> None:
    connection = KafkaConnection(bootstrap_servers="a:1,b:2")
    assert connection.consumer_options() == {
        **connection.client_options(),
        "isolation_level": "read_committed",
    }


def _consumers(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "AIOKafkaConsumer"
    ]


def _takes_consumer_options(call: ast.Call) -> bool:
    return any(
        keyword.arg is None
        and isinstance(keyword.value, ast.Call)
        and isinstance(keyword.value.func, ast.Attribute)
        and keyword.value.func.attr == "consumer_options"
        for keyword in call.keywords
    )


def test_every_consumer_of_the_services_takes_the_consumer_options() -> None:
    found, wrong = 0, []
    for path in sorted(SERVICES.rglob("*.py")):
        for call in _consumers(ast.parse(path.read_text(), str(path))):
            found += 1
            if not _takes_consumer_options(call):
                wrong.append(f"{path.relative_to(SERVICES)}:{call.lineno}")
    assert found >= 6  # the live and rebuild loops, replay's ranges, history, counts, describe
    assert wrong == []
