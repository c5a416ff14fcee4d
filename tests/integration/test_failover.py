"""Broker loss under load, on a local three-node cluster (replication factor 3, min ISR 2).

The platform retries each postback until it gets 200. Phase 1 SIGKILLs the node that leads most
partitions and restarts it 12 s later: every acknowledged change is in the views, each applied
once, and neither service is restarted. Phase 2 stops two of three nodes: a postback received
after the second died never gets 200 (503 only), and the same postbacks get 200 once a node is
back. Meanwhile repeated log lines are summarised.
Figures are printed (pytest -s) for the README.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from catalog_contract import topics as contract_topics
from catalog_stream.broker import LocalBroker
from catalog_stream.cluster import LocalCluster
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all
from receiver.settings import ReceiverSettings
from runtime_support.quiet_logs import RepeatSummary
from tests.support import (
    AUTH,
    Topics,
    eventually,
    running_services,
)

pytestmark = pytest.mark.broker

URL = "/v1/postbacks/product-changes"
CATALOG = "failover"


@dataclass
class Attempt:
    sent: float
    answered: float
    status: int


@dataclass
class Platform:
    """Sends postbacks and retries each until 200, recording every attempt."""

    receiver: httpx.AsyncClient
    attempts: list[Attempt] = field(default_factory=list)
    # item -> (price, position) of its 200
    acknowledged: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def deliver(self, item: str, price: str, give_up_at: float = float("inf")) -> bool:
        body = {"CatalogId": CATALOG, "CatalogItemId": item, "CurrentPrice": price}
        while time.monotonic() < give_up_at:
            sent = time.monotonic()
            answer = await self.receiver.post(URL, json=body, headers=AUTH)
            self.attempts.append(Attempt(sent, time.monotonic(), answer.status_code))
            if answer.status_code == 200:
                self.acknowledged[item] = (price, answer.json()["position"])
                return True
            assert answer.status_code == 503, answer.text
            await asyncio.sleep(0.2)
        return False

    async def load(self, prefix: str, stop: asyncio.Event, workers: int = 6) -> None:
        async def worker(w: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                await self.deliver(f"{prefix}-{w}-{n}", f"{n}.{w:02d}")

        await asyncio.gather(*(worker(w) for w in range(workers)))


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _said(captured: Captured, beginning: str) -> int:
    return sum(1 for r in captured.records if str(r.msg).startswith(beginning))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    ports = [free_port() for _ in range(6)]
    three = LocalCluster.on_ports(tmp_path / "kafka", ports[:3], ports[3:], heap="384m")
    three.start(timeout_s=240)
    try:
        yield three
    finally:
        three.stop()


async def _leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Node id -> how many of the topic's partitions it leads."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = (await admin.describe_topics([topic]))[0]["partitions"]
    finally:
        await admin.close()
    counts: dict[int, int] = {}
    for p in partitions:
        counts[p["leader"]] = counts.get(p["leader"], 0) + 1
    return counts


async def _restart(node: LocalBroker) -> None:
    offset = node.launch()  # from the event loop's (main) thread: see lifetime.die_with_parent
    await eventually(lambda: node.started_since(offset), timeout_s=180, every_s=0.5)


def _applied(metrics: str) -> int:
    found = re.search(r'^projector_events_total\{verdict="applied"\} ([0-9.e+]+)$', metrics, re.M)
    return int(float(found.group(1))) if found else 0


@pytest.fixture
async def services(
    cluster: LocalCluster, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Topics]]:
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(product=f"failover.{suffix}", dead_letter=f"failover.dl.{suffix}")
    await ensure_all(
        cluster.bootstrap_servers,
        [
            contract_topics.product_topic(topics.product, partitions=6, replication_factor=3),
            contract_topics.dead_letter_topic(topics.dead_letter, replication_factor=3),
        ],
    )
    bootstrap = cluster.bootstrap_servers
    deployed = ReceiverSettings.model_fields["produce_timeout_s"].default  # not the tests' 5 s
    receiver = {"produce_timeout_s": deployed}
    async with running_services(bootstrap, topics, tmp_path / "v.db", receiver) as (
        receiver_client,
        projector_client,
    ):
        yield receiver_client, projector_client, topics


def _without_200(attempts: list[Attempt], since: float) -> float:
    """The longest time after `since` during which no attempt was answered 200."""
    oks = sorted(a.answered for a in attempts if a.status == 200 and a.answered >= since)
    gaps = [later - earlier for earlier, later in zip([since, *oks], oks, strict=False)]
    return max(gaps, default=0.0)


async def test_broker_loss_under_load_keeps_every_acknowledged_change_exactly_once(
    cluster: LocalCluster,
    services: tuple[httpx.AsyncClient, httpx.AsyncClient, Topics],
) -> None:
    receiver, projector, topics = services
    platform = Platform(receiver)

    # Phase 1: the busiest leader is SIGKILLed under load, and restarted 20 s later.
    stop = asyncio.Event()
    load = asyncio.create_task(platform.load("p1", stop))
    await eventually(lambda: len(platform.acknowledged) >= 50, timeout_s=60)
    leaders = await _leaders(cluster.bootstrap_servers, topics.product)
    busiest = max(leaders, key=lambda node: leaders[node])
    victim = cluster.nodes[busiest - 1]
    killed_at = time.monotonic()
    victim.kill()
    await asyncio.sleep(12)  # longer than a failover (the brokers' 9 s session timeout)
    await _restart(victim)
    acked_before_restart = len(platform.acknowledged)
    await eventually(lambda: len(platform.acknowledged) >= acked_before_restart + 50, timeout_s=120)
    stop.set()
    await asyncio.wait_for(load, 120)  # each worker finishes its postback (retried until 200)
    phase1 = [a for a in platform.attempts if a.sent >= killed_at]
    refused = sum(1 for a in phase1 if a.status == 503)
    gap = _without_200(platform.attempts, killed_at)

    # Every acknowledged change is in the views, with its value; each was applied once.
    acknowledged = dict(platform.acknowledged)
    missing = 0
    for item, (price, position) in acknowledged.items():
        view = await projector.get(
            f"/v1/catalogs/{CATALOG}/items/{item}", params={"min_position": position}
        )
        if view.status_code != 200 or view.json()["current_price"] != price:
            missing += 1
    # Each item had one change: applied more often than there are items = applied twice.
    double_applied = _applied((await projector.get("/metrics")).text) - len(acknowledged)
    assert (missing, double_applied) == (0, 0)
    # The produce timeout outlasts a failover: slower 200s, no 503 (and no second copy).
    assert refused == 0

    # Phase 2: two of three nodes down. min.insync.replicas=2 cannot be met: no 200 for what
    # the receiver got after the second died, only 503, until a node is back; then 200s.
    raw, summarised = Captured(), Captured()
    summarised.addFilter(RepeatSummary())  # what configure_logging puts on the services' output
    for handler in (raw, summarised):
        logging.getLogger().addHandler(handler)
    try:
        survivors = [node for node in cluster.nodes if node is not victim]
        survivors[0].kill()
        victim.kill()
        second_died = time.monotonic()
        outage = [asyncio.create_task(platform.deliver(f"p2-{n}", f"{n}.99")) for n in range(12)]

        def after() -> list[Attempt]:
            return [a for a in platform.attempts if a.sent >= second_died]

        await eventually(lambda: len(after()) >= 12, timeout_s=120)  # each refused once
        node_back = time.monotonic()
        await _restart(survivors[0])
        assert all(await asyncio.wait_for(asyncio.gather(*outage), 180))
        for n in range(12):
            _, position = platform.acknowledged[f"p2-{n}"]
            view = await projector.get(
                f"/v1/catalogs/{CATALOG}/items/p2-{n}", params={"min_position": position}
            )
            assert view.json()["current_price"] == f"{n}.99"
        await eventually(lambda: _said(raw, "kafka answering fetches again"), timeout_s=60)
    finally:
        for handler in (raw, summarised):
            logging.getLogger().removeHandler(handler)
    during = [a for a in after() if a.answered < node_back]
    assert during
    assert {a.status for a in during} == {503}
    assert all(a.answered >= node_back for a in after() if a.status == 200)
    # Losing and regaining Kafka: logged once by the projector; by the receiver when its writes
    # start failing and when they succeed again (a straggler's 503 after the first 200 may say
    # "failing" once more).
    assert _said(raw, "kafka not answering fetches") == 1
    assert _said(raw, "kafka answering fetches again") == 1
    assert 1 <= _said(raw, "kafka writes failing") <= 2
    assert _said(raw, "kafka acknowledges writes again") >= 1
    # Quiet logs: each repeated message at most once per 30 s of outage, plus its first time.
    window = time.monotonic() - second_died
    per_message = Counter((r.name, r.levelno, str(r.msg)) for r in summarised.records)
    assert max(per_message.values(), default=0) <= 1 + math.ceil(window / 30)
    print(
        f"\nfailover figures: leader node {busiest} (of {leaders}) SIGKILLed under load; "
        f"longest time without a 200: {gap:.1f}s; 503s: {refused} of {len(phase1)} attempts; "
        f"acknowledged: {len(acknowledged)}, missing: {missing}, double-applied: {double_applied}"
        f"; two of three down: {len(during)} attempts, all 503, recovered after a node "
        f"returned; log lines during the outage: {len(raw.records)} raw, "
        f"{len(summarised.records)} written ({window:.0f}s)"
    )
