"""Through the real broker: a first catch-up in parts whose parts were not all merged (a key two
parts hold) leaves the live consumer to load partition 1 again; the part wrote that partition's
dead letter already, so the live consumer does not (`dead_letters_from`). A rebuild asked while
the live consumer catches up there reads the record before it: the builder holds it, the live
consumer stops short of it at the switch. The switch must not write it again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from catalog_contract.headers import SOURCE_POSITION
from catalog_contract.positions import position_text
from tests.held_letters import at_the_switch, cut_short, live_waits
from tests.integration.test_projector_first_load_attack import (
    GARBAGE,
    _history_with_a_moved_key,
    _produce,
    _settled,
)
from tests.projector_harness import projector_in_process
from tests.support import eventually, make_topics, projector_settings, read_topic, rebuilt

pytestmark = pytest.mark.broker


async def test_a_rebuild_after_a_first_load_not_merged_writes_no_dead_letter_twice(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, 2)
    await _produce(kafka_bootstrap, topics.product, _history_with_a_moved_key())
    # The live consumer's batch with partition 1's record waits, keeping nothing.
    waiting = asyncio.Event()
    live_waits(monkeypatch, lambda u: u.partition == 1, waiting)
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "views.db", rebuild_workers=2,
        first_load_min_records=1,
    )  # fmt: skip
    async with projector_in_process(settings) as (runtime, client):
        await asyncio.wait_for(waiting.wait(), 120)
        assert runtime.projector.dead_letters_from  # (the part of partition 1 not merged)
        at_the_switch(monkeypatch, runtime, cut_short(runtime))  # (nothing kept)
        status = await rebuilt(client, timeout_s=120, every_s=0.2)
        assert status["state"] == "done"
        await eventually(lambda: _settled(kafka_bootstrap, runtime.store, topics.product, 2), 60)
    dead = await read_topic(kafka_bootstrap, topics.projector_dead_letter, timeout_s=5)
    where = sorted(dict(d.headers)[SOURCE_POSITION].decode() for d in dead)
    assert where == [position_text(0, 7), position_text(1, 6)]
    assert [d.value for d in dead] == [GARBAGE, GARBAGE]
