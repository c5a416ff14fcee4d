"""attack32 on the partition recount (projector.position_waiters.refusal): a hostile reader
floods `min_position` on partitions the topic does not have. Real broker; the projector's
consumer client's metadata updates are counted by a pass-through wrapper (each still goes to
Kafka). Held on edges31: what was tried, and that it held.

- 240 reads at once, and more every quarter second for 3 s, on partitions 2, 7 and 999999999 of
  a 2-partition topic: every one refused 422 naming its partition, each within the recount's
  bound (1 s apart + 2 s), and Kafka asked at most about once a second, not once a read;
- positions that are not positions (negative, NaN, exponent, non-ASCII digits, an offset past
  int64): 422 at once, no recount;
- the broker gone (its own broker, stopped): a read on a partition the topic lacks is refused
  in the recount's bound, not held; a read of a known item still answers from the views; and
  the projector's stop leaves none of its Kafka clients' tasks running."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.client import AIOKafkaClient

from projector.position_waiters import RECOUNT_EVERY_S, RECOUNT_WAIT_S
from tests.aiokafka_tasks import tasks_talking_to
from tests.conftest import start_local_broker
from tests.factories import change
from tests.support import (
    caught_up,
    make_topics,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker

BOUND_S = RECOUNT_EVERY_S + RECOUNT_WAIT_S + 1.5  # the recount's bound, and a loaded machine's


@pytest.fixture
def metadata_updates(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each aiokafka client in this process asked Kafka for metadata (passed on as is)."""
    asked: list[float] = []
    update = AIOKafkaClient._metadata_update

    async def counted(self: AIOKafkaClient, *args: Any, **kwargs: Any) -> Any:
        asked.append(time.monotonic())
        return await update(self, *args, **kwargs)

    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", counted)
    return asked


async def _timed_read(projector: httpx.AsyncClient, partition: int) -> tuple[int, str, float]:
    started = time.monotonic()
    answer = await projector.get("/v1/catalogs/42", params={"min_position": f"{partition}:0"})
    return answer.status_code, answer.text, time.monotonic() - started


async def test_a_flood_of_reads_on_missing_partitions_costs_one_recount_a_second(
    kafka_bootstrap: str, tmp_path: Path, metadata_updates: list[float]
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=2)
    written = await produce_events(kafka_bootstrap, topics.product, [change("a", price="1")])
    async with running_projector(
        projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    ) as projector:
        await caught_up(projector, written)
        started, reads = time.monotonic(), []
        flood_s = 3.0
        while time.monotonic() - started < flood_s:
            reads += [
                asyncio.create_task(_timed_read(projector, p)) for p in (2, 7, 999999999) * 20
            ]
            await asyncio.sleep(0.25)
        answers = await asyncio.gather(*reads)
        took_s = time.monotonic() - started
        for status, text, waited_s in answers:
            assert status == 422, text
            assert "the topic has no partition" in text, text
            assert waited_s < BOUND_S, waited_s
        asked = [at for at in metadata_updates if at >= started]
        # One recount at a time, at most every RECOUNT_EVERY_S; the consumer's own updates too.
        assert len(asked) <= took_s / RECOUNT_EVERY_S + 3, (len(asked), took_s, len(answers))


async def test_positions_that_are_not_positions_are_refused_at_once(
    kafka_bootstrap: str, tmp_path: Path, metadata_updates: list[float]
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(kafka_bootstrap, topics.product, [change("a", price="1")])
    async with running_projector(
        projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    ) as projector:
        await caught_up(projector, written)
        started = time.monotonic()
        hostiles = ["-1:0", "0:-1", "NaN", "nan:0", "1e3:0", "0:1e3", "\u0663:0", ":", "0:"]
        hostiles += ["0:99999999999999999999", "1234567890:0", " 0:0", "0:0 "]
        for hostile in hostiles:
            answer = await projector.get("/v1/catalogs/42", params={"min_position": hostile})
            assert answer.status_code == 422, (hostile, answer.text)
            assert answer.headers["content-type"] == "application/problem+json", hostile
        assert time.monotonic() - started < 5
        assert not [at for at in metadata_updates if at >= started]


async def test_a_recount_with_the_broker_gone_refuses_in_bounded_time(tmp_path: Path) -> None:
    broker = start_local_broker(tmp_path / "kafka")
    try:
        bootstrap = broker.bootstrap_servers
        topics = await make_topics(bootstrap, partitions=1)
        written = await produce_events(bootstrap, topics.product, [change("a", price="1")])
        async with running_projector(
            projector_settings(bootstrap, topics, tmp_path / "v.db")
        ) as projector:
            await caught_up(projector, written)
            await asyncio.to_thread(broker.stop)
            answers = await asyncio.gather(*(_timed_read(projector, 3) for _ in range(20)))
            for status, text, waited_s in answers:
                assert status == 422, text
                assert waited_s < BOUND_S, waited_s
            known = await projector.get("/v1/catalogs/42/items/a")
            assert known.status_code == 200, known.text
        # Its stop, with the broker gone, left none of its clients' tasks running (aiokafka's
        # stop raised before closing the live consumer's client: consumer_stop).
        await asyncio.sleep(0.2)
        assert tasks_talking_to(int(bootstrap.rsplit(":", 1)[1])) == []
    finally:
        await asyncio.to_thread(broker.stop)
