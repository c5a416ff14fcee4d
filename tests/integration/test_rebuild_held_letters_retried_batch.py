"""Through the real broker: a rebuild's builder that read an unreadable record the live consumer
had not (the live consumer stopped short of it at the switch) writes it at the switch
(HeldDeadLetters.due_past). Its batch's write to the new generation failed once (a store
outage): the batch is read again from the stored positions and its record held again. It must
still be on the dead-letter topic once."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_contract.keys import product_key
from projector.batch import BatchPlan
from projector.errors import StoreUnavailable
from projector.store import ViewStore
from tests.held_letters import at_the_switch, cut_short, live_waits
from tests.integration.test_projector_first_load_attack import Placed, _item, _produce, _settled
from tests.projector_harness import projector_in_process
from tests.support import eventually, make_topics, projector_settings, read_topic, rebuilt

pytestmark = pytest.mark.broker
BROKEN = b"\x00 not an Avro event, in a builder batch written twice"


async def test_a_builder_batch_read_again_after_a_failed_write_holds_its_letters_once(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, 1)
    await _produce(kafka_bootstrap, topics.product, _item("lamp", 1, 0) + _item("desk", 2, 0))
    # The live consumer's batch with the record waits, keeping nothing, until the switch.
    live_waits(monkeypatch, lambda u: u.value == BROKEN)
    write = ViewStore.write
    failures: list[str] = []

    def builder_write_fails_once(store: ViewStore, topic: str, plan: BatchPlan) -> None:
        broken = any(u.value == BROKEN for u in plan.unreadable)
        if broken and not failures and store.name != base.name:
            failures.append(store.name)  # the builder's batch with the record, once
            raise StoreUnavailable("the new generation's store is unreachable")
        write(store, topic, plan)

    monkeypatch.setattr(ViewStore, "write", builder_write_fails_once)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    async with projector_in_process(settings) as (runtime, client):
        await eventually(lambda: _settled(kafka_bootstrap, runtime.store, topics.product, 1), 60)
        base = runtime.store
        broken: list[Placed] = [(0, product_key("42", "broken"), BROKEN, [])]
        await _produce(kafka_bootstrap, topics.product, broken + _item("lamp", 3, 0))
        at_the_switch(monkeypatch, runtime, cut_short(runtime))  # (nothing kept)
        status = await rebuilt(client, timeout_s=120, every_s=0.2)
        assert status["state"] == "done"
        assert runtime.store is not base
        await eventually(lambda: _settled(kafka_bootstrap, runtime.store, topics.product, 1), 60)
        lamp = (await client.get("/v1/catalogs/42/items/lamp")).json()
    dead = await read_topic(kafka_bootstrap, topics.projector_dead_letter, timeout_s=5)
    assert [d.value for d in dead] == [BROKEN]
    assert lamp["current_price"] == "4.00"
    assert len(failures) == 1
