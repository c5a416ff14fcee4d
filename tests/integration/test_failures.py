"""Failures the foundation must survive: the broker going away, the projector being killed."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalog_contract.events import Availability, ChangeType
from catalog_stream.broker import LocalBroker
from projector.store import SqliteStore
from tests.conftest import make_topics, start_local_broker
from tests.factories import change
from tests.support import (
    AUTH,
    Topics,
    dump,
    eventually,
    produce_events,
    projector_settings,
    receiver_settings,
    running_projector,
    running_receiver,
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
    async with (
        running_receiver(receiver_settings(bootstrap, topics, produce_timeout_s=3.0)) as receiver,
        running_projector(projector_settings(bootstrap, topics, tmp_path / "v.db")) as projector,
    ):
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


def _applied(db: Path) -> int:
    try:
        with sqlite3.connect(db) as connection:
            row = connection.execute("SELECT COALESCE(SUM(next_offset), 0) FROM offsets").fetchone()
            return int(row[0])
    except sqlite3.Error:
        return 0


def _reached(db: Path, count: int) -> Callable[[], bool]:
    return lambda: _applied(db) >= count


def _start_projector(
    bootstrap: str, topics: Topics, db: Path, port: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOG_PROJECTOR_TOPIC": topics.product,
        "CATALOG_PROJECTOR_GROUP_ID": f"kill-test-{db.stem}",
        "CATALOG_PROJECTOR_STORE_URL": f"sqlite:///{db}",
        "CATALOG_PROJECTOR_PORT": str(port),
        "CATALOG_PROJECTOR_BATCH_MAX_RECORDS": "40",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "catalog_stream.cli", "projector"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_projector_killed_mid_stream_ends_with_the_same_views(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    from catalog_stream.broker import free_port

    topics = await make_topics(kafka_bootstrap)
    events = _events(4000, items=400)
    await produce_events(kafka_bootstrap, topics.product, events)
    total = len(events) + sum(e.change_type is ChangeType.REMOVED for e in events)

    reference = tmp_path / "reference.db"
    async with running_projector(projector_settings(kafka_bootstrap, topics, reference)):
        await eventually(lambda: _applied(reference) == total, timeout_s=120)

    killed = tmp_path / "killed.db"
    rng = random.Random(3)
    killed_at: list[int] = []
    for fraction in sorted(rng.uniform(0.1, 0.9) for _ in range(4)):
        process = _start_projector(kafka_bootstrap, topics, killed, free_port())
        try:
            await eventually(_reached(killed, int(total * fraction)), timeout_s=120, every_s=0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        killed_at.append(_applied(killed))
    process = _start_projector(kafka_bootstrap, topics, killed, free_port())
    try:
        await eventually(lambda: _applied(killed) == total, timeout_s=120)
    finally:
        process.terminate()
        process.wait()
    assert len([n for n in killed_at if 0 < n < total]) >= 3, killed_at  # really mid-stream
    assert dump(SqliteStore(killed)) == dump(SqliteStore(reference))
