"""Through the real broker: a rebuild's builder that reads an unreadable record before the live
consumer does (a rebuild asked while the views catch up, or a builder near the head under
load). The live consumer reads it too before the switch, and dead-letters it. Before, the
builder had dead-lettered it as well (it was past the active generation's positions when the
builder read it): twice on the dead-letter topic, as stop 39's CI saw once
(test_a_rebuild_asked_during_the_look_gives_one_process_views). The builder now holds its dead
letters until the switch and writes only those past where the live consumer stopped: once."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_contract.keys import product_key
from tests.held_letters import at_the_switch, live_waits
from tests.integration.test_projector_first_load_attack import Placed, _item, _produce, _settled
from tests.projector_harness import projector_in_process
from tests.support import eventually, make_topics, projector_settings, read_topic, rebuilt

pytestmark = pytest.mark.broker
BROKEN = b"\x00 not an Avro event, read by the builder first"


async def test_an_unreadable_record_the_builder_reads_first_is_dead_lettered_once(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, 1)
    await _produce(kafka_bootstrap, topics.product, _item("lamp", 1, 0) + _item("desk", 2, 0))
    # The live consumer's batch with the record waits, before it keeps anything, until the
    # builder has read it (and is about to switch).
    release = live_waits(monkeypatch, lambda u: u.value == BROKEN)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    async with projector_in_process(settings) as (runtime, client):
        await eventually(lambda: _settled(kafka_bootstrap, runtime.store, topics.product, 1), 60)
        base = runtime.store
        broken: list[Placed] = [(0, product_key("42", "broken"), BROKEN, [])]
        await _produce(kafka_bootstrap, topics.product, broken + _item("lamp", 3, 0))

        async def live_passes_it_first() -> None:  # the builder caught up: the switch begins
            release.set()
            await eventually(lambda: _settled(kafka_bootstrap, base, topics.product, 1), 60)

        at_the_switch(monkeypatch, runtime, live_passes_it_first)
        await rebuilt(client, timeout_s=120, every_s=0.2)
        assert release.is_set()  # (the live consumer was held until the switch)
        await eventually(lambda: _settled(kafka_bootstrap, runtime.store, topics.product, 1), 60)
        lamp = (await client.get("/v1/catalogs/42/items/lamp")).json()
    dead = await read_topic(kafka_bootstrap, topics.projector_dead_letter, timeout_s=5)
    assert [d.value for d in dead] == [BROKEN]
    assert lamp["current_price"] == "4.00"
