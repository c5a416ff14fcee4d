"""Through the real broker: a restatement Kafka refuses is owed, kept across a restart, and
written once Kafka takes it, although the product stays quiet; a replay of what compaction
keeps then builds the live views.

Kafka refuses it honestly: the product topic's `max.message.bytes` is lowered below the size of
the item's whole state (its partial postback still fits), then set back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from catalog_contract import headers
from catalog_contract import topics as contract_topics
from catalog_contract.events import Availability
from catalog_contract.keys import product_key
from tests.factories import change
from tests.integration.test_compaction import _compacted, _replay, _settle, _views
from tests.support import (
    Topics,
    eventually,
    produce_events,
    projector_settings,
    read_topic,
    running_projector,
)

pytestmark = pytest.mark.broker

LONG_NAME = "Mug " + "x" * 3000  # the whole state is over 3 kB; the partial postback is not
FULL = change("a", "c1", minute=0, price="10.00", name=LONG_NAME, stock=Availability.IN_STOCK)
PARTIAL = change("a", "c1", minute=5, price="8.00")  # the views keep the name and the stock


async def _max_message_bytes(bootstrap: str, topic: str, limit: int | None) -> None:
    """Set the topic's max.message.bytes (None: Kafka's default), keeping its contract configs
    (AlterConfigs replaces a topic's whole set)."""
    configs = dict(contract_topics.product_topic(topic).configs)
    if limit is not None:
        configs["max.message.bytes"] = str(limit)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


async def _metric(client: httpx.AsyncClient, name: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def _restatements_of(records: list[Any], key: bytes) -> list[Any]:
    return [r for r in records if r.key == key and any(n == headers.RESTATES for n, _ in r.headers)]


async def test_a_refused_restatement_is_owed_across_a_restart_until_written(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    key = product_key("c1", "a")
    settings = projector_settings(
        kafka_bootstrap,
        topics,
        tmp_path / "live.db",
        restate_timeout_s=5.0,
        restate_retry_max_s=1.0,  # the test waits for retries: keep the backoff short
    )
    await produce_events(kafka_bootstrap, topics.product, [FULL])
    async with running_projector(settings) as client:
        await _settle(client, kafka_bootstrap, topics.product)
        await _max_message_bytes(kafka_bootstrap, topics.product, 2000)
        await produce_events(kafka_bootstrap, topics.product, [PARTIAL])

        async def owed() -> bool:
            return await _metric(client, "projector_restatements_owed") == 1

        await eventually(owed, timeout_s=60)
        assert await _metric(client, "projector_restatements_failed_total") >= 1
        assert 'id="restatements-owed">1<' in (await client.get("/")).text
        item = (await client.get("/v1/catalogs/c1/items/a")).json()
        assert (item["name"], item["current_price"]) == (LONG_NAME, "8.00")
    # Quiet product, restarted projector, Kafka still refusing: the debt is kept and retried.
    async with running_projector(settings) as client:

        async def retried() -> bool:  # this process's counters start at zero
            return await _metric(client, "projector_restatements_failed_total") >= 2

        await eventually(retried, timeout_s=60)
        assert await _metric(client, "projector_restatements_owed") == 1
        assert _restatements_of(await read_topic(kafka_bootstrap, topics.product), key) == []
        await _max_message_bytes(kafka_bootstrap, topics.product, None)  # Kafka takes it again

        async def paid() -> bool:
            return await _metric(client, "projector_restatements_owed") == 0

        await eventually(paid, timeout_s=60)
        assert 'id="restatements-owed">0<' in (await client.get("/")).text
        await _settle(client, kafka_bootstrap, topics.product)
        live = await _views(client)
    records = await read_topic(kafka_bootstrap, topics.product)
    assert len(_restatements_of(records, key)) == 1
    assert records[-1].key == key  # the key's last record is the restatement
    replayed, _ = await _replay(kafka_bootstrap, _compacted(records), tmp_path, "replay")
    assert replayed == live
    assert live["items"]["c1"][0]["name"] == LONG_NAME
