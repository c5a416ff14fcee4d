"""Failures the foundation must survive: the broker going away, the projector being killed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalog_contract.events import Availability, ChangeType
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from projector.postgres_store import PostgresStore
from projector.sqlite_store import SqliteStore
from projector.store import ViewStore
from tests.conftest import start_local_broker
from tests.factories import change
from tests.postgres import LocalPostgres
from tests.support import (
    AUTH,
    Topics,
    dump,
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    running_projector,
    running_services,
)

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"


@pytest.fixture
def own_broker(tmp_path: Path) -> Any:
    """A broker of this test's own, which it may stop and start."""
    broker = start_local_broker(tmp_path / "kafka")
    yield broker
    broker.stop()


async def test_broker_down_means_503_and_the_retry_lands_once(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    topics = await make_topics(own_broker.bootstrap_servers)
    bootstrap = own_broker.bootstrap_servers
    postback = {"CatalogId": "7", "CatalogItemId": "kettle", "CurrentPrice": "30.00"}
    async with running_services(
        bootstrap,
        topics,
        tmp_path / "v.db",
        receiver={"produce_timeout_s": 3.0},
        # The projector reconnects after the broker's restart in its own time: on a loaded
        # machine that can exceed the default read-your-writes wait of 5 s.
        projector={"read_your_writes_max_wait_s": 60.0},
    ) as (receiver, projector):
        own_broker.stop()
        refused = await receiver.post(PATH, json=postback, headers=AUTH)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "30"
        assert refused.headers["content-type"] == "application/problem+json"
        assert (await projector.get("/v1/catalogs/7/items/kettle")).status_code == 404

        own_broker.start()

        async def retried() -> Any:
            response = await receiver.post(PATH, json=postback, headers=AUTH)
            return response if response.status_code == 200 else None

        accepted = await eventually(retried, timeout_s=60, every_s=1)
        position = accepted.json()["position"]
        item = await projector.get("/v1/catalogs/7/items/kettle", params={"min_position": position})
        feed = await projector.get("/v1/changes")
    assert item.status_code == 200
    assert item.json()["current_price"] == "30.00"
    assert item.json()["revision"] == 1  # applied once, however many copies reached the topic
    assert [c["kind"] for c in feed.json()["changes"]] == ["item_added"]


def _events(count: int, items: int, seed: int = 7) -> list[Any]:
    rng = random.Random(seed)
    events = []
    for n in range(count):
        item = f"item-{rng.randrange(items)}"
        if rng.random() < 0.03:
            events.append(
                change(item, catalog=f"c{rng.randrange(3)}", minute=n, kind=ChangeType.REMOVED)
            )
            continue
        events.append(
            change(
                item,
                catalog=f"c{rng.randrange(3)}",
                minute=n,
                price=f"{rng.randrange(100, 10_000) / 100:.2f}",
                stock=rng.choice(list(Availability)[:5]),
                name=f"Product {item}" if rng.random() < 0.5 else None,
            )
        )
    return events


def _applied(store: ViewStore, topic: str) -> int:
    try:
        return sum(store.positions(topic).values())
    except Exception:  # the projector has not created its tables yet
        return 0


def _reached(store: ViewStore, topic: str, count: int) -> Callable[[], bool]:
    return lambda: _applied(store, topic) >= count


def start_projector_process(
    bootstrap: str, topics: Topics, store_url: str, group: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOG_PROJECTOR_TOPIC": topics.product,
        "CATALOG_PROJECTOR_GROUP_ID": group,
        "CATALOG_PROJECTOR_STORE_URL": store_url,
        "CATALOG_PROJECTOR_PORT": str(free_port()),
        "CATALOG_PROJECTOR_BATCH_MAX_RECORDS": "200",
        "CATALOG_PROJECTOR_SESSION_TIMEOUT_MS": "6000",  # the broker's minimum: quick takeover
        # Every run must read the very same topic as the reference run: nothing appended to it.
        "CATALOG_PROJECTOR_RESTATE": "false",
    }
    with (log or Path(os.devnull)).open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "catalog_stream.cli", "projector"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )


async def _reference_views(bootstrap: str, topics: Topics, db: Path, total: int) -> dict[str, Any]:
    """The views of one uninterrupted run."""
    reference = SqliteStore(db)
    settings = projector_settings(bootstrap, topics, db, restate=False)
    async with running_projector(settings, reference):
        await eventually(_reached(reference, topics.product, total), timeout_s=300)
        views = dump(reference)
    reference.close()
    return views


STREAM = 50_000


async def test_projector_killed_mid_stream_ends_with_the_same_views(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap)
    total = await produce_events(kafka_bootstrap, topics.product, _events(STREAM, items=5000))
    expected = await _reference_views(kafka_bootstrap, topics, tmp_path / "reference.db", total)

    killed = SqliteStore(tmp_path / "killed.db")
    try:
        killed_at = await _kill_repeatedly(kafka_bootstrap, topics, killed, total)
        assert len([n for n in killed_at if 0 < n < total]) >= 4, killed_at  # really mid-stream
        assert dump(killed) == expected
    finally:
        killed.close()  # also when it failed: a connection left open fails a later test


async def _kill_repeatedly(
    bootstrap: str, topics: Topics, killed: SqliteStore, total: int
) -> list[int]:
    """SIGKILL a projector at five random points of the stream, then let one finish it."""
    url = f"sqlite:///{killed.path}"
    rng = random.Random(3)
    killed_at: list[int] = []
    for fraction in sorted(rng.uniform(0.05, 0.95) for _ in range(5)):
        process = start_projector_process(bootstrap, topics, url, "kill-test")
        try:
            target = int(total * fraction)
            await eventually(_reached(killed, topics.product, target), timeout_s=300, every_s=0.01)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        killed_at.append(_applied(killed, topics.product))
    process = start_projector_process(bootstrap, topics, url, "kill-test")
    try:
        await eventually(_reached(killed, topics.product, total), timeout_s=300)
    finally:
        process.terminate()
        process.wait()
    return killed_at


async def test_survivor_takes_over_a_killed_instances_partitions(
    kafka_bootstrap: str, tmp_path: Path, postgres: LocalPostgres
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=6)
    total = await produce_events(kafka_bootstrap, topics.product, _events(20_000, items=3000))
    expected = await _reference_views(kafka_bootstrap, topics, tmp_path / "reference.db", total)

    url = postgres.create_database("two_instances")
    shared = PostgresStore(url)
    first = start_projector_process(kafka_bootstrap, topics, url, "pair", tmp_path / "first.log")
    second = start_projector_process(kafka_bootstrap, topics, url, "pair", tmp_path / "second.log")
    try:
        await eventually(_reached(shared, topics.product, total // 3), timeout_s=300, every_s=0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert _applied(shared, topics.product) < total
        await eventually(_reached(shared, topics.product, total), timeout_s=300)
        assert dump(shared) == expected
    finally:
        for process in (first, second):
            process.terminate()
            process.wait()
        shared.close()  # also when it failed: a connection left open fails a later test
