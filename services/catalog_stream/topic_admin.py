"""Creating the contract's topics, idempotently, and reading back what the broker has.

Re-running on existing topics changes nothing; it reports every setting that differs from the
contract so an operator can decide (changing partitions of a keyed topic moves keys).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from catalog_contract.kafka_auth import KafkaAuthError, check_credentials
from catalog_contract.kafka_connection import KafkaConnection, kafka_connection
from catalog_contract.topics import TopicSpec
from catalog_stream.errors import CatalogStreamError

TOPIC_ALREADY_EXISTS = 36


class TopicsError(CatalogStreamError):
    """The broker refused or could not be asked; `retryable` if it may answer later."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message, retryable)


@dataclass
class EnsureReport:
    topic: str
    created: bool
    differences: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{self.topic}: {'created' if self.created else 'exists'}"
        if not self.differences:
            return [head + ("" if self.created else ", matches the contract")]
        return [head + ", differs from the contract:"] + [f"  - {d}" for d in self.differences]


@dataclass
class TopicState:
    partitions: int
    replication_factor: int
    configs: dict[str, str]


async def describe(admin: AIOKafkaAdminClient, topic: str) -> TopicState:
    described = await admin.describe_topics([topic])
    partitions = described[0]["partitions"]
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = responses[0].resources[0][4]
    return TopicState(
        partitions=len(partitions),
        replication_factor=len(partitions[0]["replicas"]) if partitions else 0,
        configs={name: value for name, value, *_ in entries if value is not None},
    )


def differences(spec: TopicSpec, state: TopicState) -> list[str]:
    found = []
    if state.partitions != spec.partitions:
        found.append(f"partitions: contract {spec.partitions}, broker {state.partitions}")
    if state.replication_factor != spec.replication_factor:
        found.append(
            f"replication factor: contract {spec.replication_factor}, "
            f"broker {state.replication_factor}"
        )
    for name, wanted in spec.configs.items():
        actual = state.configs.get(name)
        if actual != wanted:
            found.append(f"{name}: contract {wanted}, broker {actual}")
    return found


async def _describe_when_visible(admin: AIOKafkaAdminClient, topic: str) -> TopicState:
    """A topic just created may take a moment to appear in metadata everywhere."""
    for _ in range(50):
        state = await describe(admin, topic)
        if state.partitions and state.configs:
            return state
        await asyncio.sleep(0.1)
    raise TopicsError(f"{topic} was created but its metadata did not appear", retryable=True)


async def ensure(admin: AIOKafkaAdminClient, spec: TopicSpec) -> EnsureReport:
    new = NewTopic(spec.name, spec.partitions, spec.replication_factor, topic_configs=spec.configs)
    try:
        response: Any = await admin.create_topics([new])
        _, code, message = response.topic_errors[0]
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise TopicsError(
                f"creating {spec.name} failed: error {code}: {message}", retryable=False
            )
        state = await _describe_when_visible(admin, spec.name)
    except KafkaError as exc:
        raise TopicsError(f"broker did not answer: {exc}", retryable=True) from exc
    return EnsureReport(spec.name, created=code == 0, differences=differences(spec, state))


async def checked_connection(kafka: KafkaConnection | str) -> KafkaConnection:
    """The connection, once the cluster accepted its credentials (if it answers at all)."""
    connection = kafka_connection(kafka)
    try:
        await check_credentials(connection)
    except KafkaAuthError as exc:
        raise TopicsError(str(exc), retryable=False) from exc
    return connection


async def ensure_all(kafka: KafkaConnection | str, specs: list[TopicSpec]) -> list[EnsureReport]:
    connection = await checked_connection(kafka)
    admin = AIOKafkaAdminClient(**connection.client_options(), client_id="catalog-stream-topics")
    try:
        await admin.start()
    except KafkaError as exc:
        raise TopicsError(
            f"cannot reach Kafka at {connection.describe()}: {exc}", retryable=True
        ) from exc
    try:
        return [await ensure(admin, spec) for spec in specs]
    finally:
        await admin.close()
