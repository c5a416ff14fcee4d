"""Read-your-writes across a rebuild's switch: a request waiting for a position while the live
consumer is replaced must be answered when the NEW generation's consumer applies it, not run
into 504 because it waits on the old, stopped consumer's positions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka import TopicPartition

from projector.batch import plan_batch
from projector.records import Incoming
from projector.settings import ProjectorSettings
from tests.factories import change
from tests.projector_harness import projector_in_process


def _settings(tmp_path: Path) -> ProjectorSettings:
    db = tmp_path / "views.db"
    return ProjectorSettings(store_url=f"sqlite:///{db}", read_your_writes_max_wait_s=3)


async def test_a_waiting_read_is_answered_when_the_new_generation_gets_there(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    async with projector_in_process(settings, run_consumer=False) as (runtime, client):
        runtime.projector.applied = {0: 5}
        for path in ("/v1/catalogs/42/items/sku-1", "/v1/catalogs/42/items", "/v1/catalogs"):
            waiting = asyncio.create_task(client.get(f"{path}?min_position=0:7"))
            await asyncio.sleep(0.3)  # the request is waiting for 0:7
            assert not waiting.done()
            # What the switch does: the live consumer is replaced by one on the new generation,
            # which then applies the batch with 0:7 and notifies the readers.
            old = runtime.projector
            runtime.projector = runtime._live_projector(runtime.store)
            runtime.projector.publish({0: 8})  # what its batch's end does
            answer = await waiting
            assert answer.status_code != 504, (path, answer.text)
            runtime.projector = old  # for the next route


class _Consumer:
    """What `_seek_to_stored` asks of aiokafka's consumer."""

    def __init__(self, *assigned: TopicPartition) -> None:
        self.assigned = set(assigned)

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    async def seek_to_beginning(self, tp: TopicPartition) -> None:
        pass


async def test_a_waiting_read_is_answered_when_the_positions_are_read_on_assignment(
    tmp_path: Path,
) -> None:
    """After a start (or a switch) the consumer knows its positions only when it is assigned
    its partitions: it then reads them from the store. A read that waits for a position the
    store holds must be answered then, not only when some later batch happens to arrive."""
    settings = _settings(tmp_path)
    async with projector_in_process(settings, run_consumer=False) as (runtime, client):
        event = change("sku-1")
        records = [Incoming(0, n, "42", "sku-1", event) for n in range(8)]
        runtime.store.write(settings.topic, plan_batch(records, {}, lambda _: None))
        waiting = asyncio.create_task(client.get("/v1/catalogs/42/items/sku-1?min_position=0:7"))
        await asyncio.sleep(0.3)  # not assigned yet: the consumer knows no positions
        assert not waiting.done()
        tp = TopicPartition(settings.topic, 0)
        await runtime.projector._seek_to_stored(_Consumer(tp), [tp])
        answer = await waiting
        assert answer.status_code == 200, answer.text
