"""The batch loop goes back to the store's positions (after a batch the store did not take, or
once a store outage ends) while another instance joins the group and takes partitions from it
(a real broker, two projectors on one SQLite file as in the tests of rebalances).

Attacked (break35): StoredPositions._seek_to_stored looked at the assignment once, before its
loop over the partitions; a seek to the beginning awaits Kafka, a rebalance meanwhile revoked
partitions still ahead in the loop, and seeking one of them raised IllegalStateError out of the
batch loop. Failed before: IllegalStateError ("Partitions {...} are not assigned")."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.support import caught_up, eventually, make_topics, produce_events, projector_settings

pytestmark = pytest.mark.broker

SLOW_SEEK_S = 4.0


async def test_partitions_revoked_while_the_loop_seeks_are_left_alone(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=4)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with projector_in_process(settings) as (runtime, client):
        await eventually(lambda: len(runtime.projector.assigned) == 4, timeout_s=30)
        consumer = runtime.projector._consumer
        assert consumer is not None
        # Nothing applied yet: every partition is sought to the beginning, each taking a while.
        seek_to_beginning = AIOKafkaConsumer.seek_to_beginning

        async def slow_seek_to_beginning(self: AIOKafkaConsumer, *partitions: Any) -> Any:
            # (aiokafka checks the assignment first, then waits for the reset)
            reset = await seek_to_beginning(self, *partitions)
            await asyncio.sleep(SLOW_SEEK_S)
            return reset

        monkeypatch.setattr(AIOKafkaConsumer, "seek_to_beginning", slow_seek_to_beginning)
        seeking = asyncio.ensure_future(
            runtime.projector._seek_to_stored(consumer, consumer.assignment())
        )
        async with projector_in_process(settings) as (other, _):
            # Joined during the first seek: half the partitions are revoked from the first
            # instance, at least one of them still ahead in its loop.
            await eventually(lambda: len(other.projector.assigned) == 2, timeout_s=30)
            await seeking  # raised IllegalStateError
            assert len(consumer.assignment()) == 2
            monkeypatch.undo()
            written = await produce_events(
                kafka_bootstrap, topics.product, [change(f"p-{n}") for n in range(20)]
            )
            await eventually(
                lambda: sum(runtime.store.positions(settings.topic).values()) == written,
                timeout_s=30,
            )
        await caught_up(client, written)
