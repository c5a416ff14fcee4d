"""Fixtures: a real Kafka broker for the session, unique topics per test, in-process services.

The broker is, in order: `KAFKA_BOOTSTRAP_SERVERS` if set; a testcontainers Kafka if a Docker
engine answers; else the Maven-fetched Apache Kafka started here on free ports.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from projector.generations import Generations, SqliteGenerations
from projector.generations_postgres import PostgresGenerations
from projector.store import ViewStore
from tests.postgres import LocalPostgres, own_postgres
from tests.support import SharedPostgres, SharePostgres, Topics, make_topics, shared_postgres

# Generated tests judge behaviour, not speed (speed is measured in bench/): a per-example deadline
# or a "generation too slow" check on a loaded 2-core machine only turns load into failures (the
# mutation gate, running beside other work, failed so on other modules' hypothesis tests).
settings.register_profile("catalog", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("catalog")


def _docker_engine_answers() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def start_local_broker(data_dir: Path) -> LocalBroker:
    broker = LocalBroker(data_dir, port=free_port(), controller_port=free_port(), heap="768m")
    broker.start()
    return broker


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = start_local_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
async def topics(kafka_bootstrap: str) -> Topics:
    return await make_topics(kafka_bootstrap)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL server for the session (its directory must be reachable by `postgres`)."""
    with own_postgres() as server:  # (its data, ~0.5 GB after a full run, removed after)
        yield server


@pytest.fixture
def share_postgres(kafka_bootstrap: str, postgres: LocalPostgres) -> SharePostgres:
    """`await share_postgres(items, partitions=1, waves=1)`: topics and a PostgreSQL database of
    this test's own for projector instances sharing their generations, with `waves` price waves
    of `items` items written (support.SharedPostgres)."""

    async def share(items: int, partitions: int = 1, waves: int = 1) -> SharedPostgres:
        return await shared_postgres(kafka_bootstrap, postgres, items, partitions, waves)

    return share


@pytest.fixture(params=["sqlite", "postgres"])
def generations(request: pytest.FixtureRequest, tmp_path: Path) -> Generations:
    """The same tests run against each kind of view store; each test starts empty."""
    if request.param == "sqlite":
        return SqliteGenerations(tmp_path / "views.db")
    server: LocalPostgres = request.getfixturevalue("postgres")
    return PostgresGenerations(server.create_database(f"views_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def store(generations: Generations) -> Iterator[ViewStore]:
    opened = generations.open_active()
    yield opened
    opened.close()
