"""Through the real broker: at a rebuild's switch the live consumer stops first, and the rebuild
reads on past where it stopped; records only the rebuild applies are still restated and kept
as dead letters (the rebuild's consumer wrote neither: the replay and the dead letters lost
them), and nothing the live consumer kept is kept twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract import headers
from catalog_contract.events import Availability
from catalog_contract.keys import product_key
from projector import rebuild_switch
from projector.consumer import ConsumerLoop
from tests.factories import change
from tests.support import (
    Topics,
    caught_up,
    eventually,
    produce_events,
    projector_settings,
    read_topic,
    rebuilt,
    running_projector,
)

pytestmark = pytest.mark.broker
FULL = change("lamp", "c1", minute=1, price="5.00", stock=Availability.IN_STOCK, name="Lamp")
UNTIMED = change("lamp", "c1", minute=None, price="4.00")  # over a state: owes a restatement
BROKEN = b"\x00 not an Avro event"


async def _produce_broken(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, BROKEN, key=product_key("c1", "broken"))
    finally:
        await producer.stop()


def _restated(records: list[Any]) -> list[Any]:
    return [r for r in records if any(name == headers.RESTATES for name, _ in r.headers)]


async def test_records_only_the_rebuild_applies_are_restated_and_kept(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = await produce_events(kafka_bootstrap, topics.product, [FULL])
    until_reached = rebuild_switch.until_reached
    landed: list[bool] = []

    async def in_the_window(builder: ConsumerLoop, positions: dict[int, int], *args: Any) -> None:
        # The live consumer has stopped at `positions`: what lands now, only the rebuild reads
        # (once: the switch waits for the builder before and again while it holds the pointer).
        if not landed:
            landed.append(True)
            before = sum(builder.applied.values())
            await produce_events(kafka_bootstrap, topics.product, [UNTIMED])
            await _produce_broken(kafka_bootstrap, topics.product)
            await eventually(lambda: sum(builder.applied.values()) >= before + 2, timeout_s=30)
        await until_reached(builder, positions, *args)

    monkeypatch.setattr(rebuild_switch, "until_reached", in_the_window)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    async with running_projector(settings) as projector:
        await caught_up(projector, written, timeout_s=60)
        await rebuilt(projector, timeout_s=90)
        item = (await projector.get("/v1/catalogs/c1/items/lamp")).json()
        assert (item["name"], item["current_price"]) == ("Lamp", "4.00")
    records = await read_topic(kafka_bootstrap, topics.product)
    [restated] = _restated(records)  # the untimed postback's, once
    assert restated.key == product_key("c1", "lamp")
    dead = await read_topic(kafka_bootstrap, topics.projector_dead_letter)
    assert [(d.key, d.value) for d in dead] == [(product_key("c1", "broken"), BROKEN)]
