"""Through the real broker: a rebuild's builder that read an unreadable record the live consumer
had not (the live consumer stopped short of it at the switch) writes it at the switch
(HeldDeadLetters.due_past). If the switch then fails (the handover's store outage, the pointer's
move refused), the live consumer restarts on the old generation from its positions, below the
record, and reads it again: it must not dead-letter it a second time."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_contract.keys import product_key
from projector.errors import StoreUnavailable
from projector.store import ViewStore
from tests.held_letters import at_the_switch, cut_short, live_waits
from tests.integration.test_projector_first_load_attack import Placed, _item, _produce, _settled
from tests.projector_harness import projector_in_process
from tests.support import ADMIN, eventually, make_topics, projector_settings, read_topic

pytestmark = pytest.mark.broker
BROKEN = b"\x00 not an Avro event, written at a switch that then failed"


async def test_a_switch_failing_after_writing_held_letters_leaves_each_once(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, 1)
    await _produce(kafka_bootstrap, topics.product, _item("lamp", 1, 0) + _item("desk", 2, 0))
    # The live consumer's batch with the record waits, keeping nothing, until the switch.
    release = live_waits(monkeypatch, lambda u: u.value == BROKEN)
    handed_over = ViewStore.continue_owed_of
    failures: list[str] = []

    def handover_fails(store: ViewStore, older: ViewStore) -> None:
        if not failures:  # the first switch's handover only: a store outage
            failures.append(store.name)
            raise StoreUnavailable("the handover's store is unreachable")
        handed_over(store, older)

    monkeypatch.setattr(ViewStore, "continue_owed_of", handover_fails)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db")
    async with projector_in_process(settings) as (runtime, client):
        await eventually(lambda: _settled(kafka_bootstrap, runtime.store, topics.product, 1), 60)
        base = runtime.store
        broken: list[Placed] = [(0, product_key("42", "broken"), BROKEN, [])]
        await _produce(kafka_bootstrap, topics.product, broken + _item("lamp", 3, 0))
        # Its batch stuck: cancelled, nothing kept (the live consumer restarted after the
        # failure reads the record).
        at_the_switch(monkeypatch, runtime, cut_short(runtime, then=release.set))
        asked = await client.post("/v1/admin/rebuild", headers=ADMIN)
        assert asked.status_code == 202, asked.text

        async def ended() -> bool:
            state = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()["state"]
            return bool(state != "running")

        await eventually(ended, timeout_s=120, every_s=0.2)
        status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
        assert status["state"] == "failed"
        assert runtime.store is base
        await eventually(lambda: _settled(kafka_bootstrap, base, topics.product, 1), 60)
        lamp = (await client.get("/v1/catalogs/42/items/lamp")).json()
    dead = await read_topic(kafka_bootstrap, topics.projector_dead_letter, timeout_s=5)
    assert [d.value for d in dead] == [BROKEN]
    assert lamp["current_price"] == "4.00"
    assert len(failures) == 1
