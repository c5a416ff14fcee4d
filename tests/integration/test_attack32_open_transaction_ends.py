"""attack32 on /readyz's `past_last_stable_offset` (projector.consumer_progress): another
producer's transaction of 30 records ends (committed, or aborted) while /readyz and /metrics
are read without pause. Real broker. Held on edges31: every answer is well-formed (200 or 503
with a lag; the count held never negative nor more than was written), and once the
transaction ends the projector is ready with lag 0 and says nothing held (an abort leaves its
records and marker past every applied offset: they count as passed, not as lag)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records
from tests.factories import change
from tests.support import (
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    running_projector,
)

pytestmark = pytest.mark.broker

RECORDS = 30


@pytest.mark.parametrize("commit", [True, False])
async def test_readiness_read_while_an_open_transaction_ends(
    kafka_bootstrap: str, tmp_path: Path, commit: bool
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db", ready_max_lag=5)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"attack32-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    seen: list[tuple[int, dict[str, object]]] = []
    try:
        async with running_projector(settings) as views:
            await produce_events(kafka_bootstrap, topics.product, [change("before")])

            async def ready() -> bool:
                answer = await views.get("/readyz")
                return answer.status_code == 200 and answer.json()["lag"] == 0

            await eventually(ready, timeout_s=60)
            await producer.begin_transaction()
            for n in range(RECORDS):
                records = product_records(change(f"open-{n}", price="3.00"))
                await producer.send(
                    topics.product, records.values[0], key=records.key, headers=records.headers
                )
            await producer.flush()

            async def held() -> bool:
                answer = (await views.get("/readyz")).json()
                return bool(answer.get("past_last_stable_offset") == RECORDS)

            await eventually(held, timeout_s=30)
            stop = asyncio.Event()

            async def watch() -> None:
                while not stop.is_set():
                    answer = await views.get("/readyz")
                    seen.append((answer.status_code, answer.json()))
                    await views.get("/metrics")
                    await asyncio.sleep(0.005)

            async def ready_again() -> bool:
                answer = await views.get("/readyz")
                body = answer.json()
                return (
                    answer.status_code == 200
                    and body["lag"] == 0
                    and ("past_last_stable_offset" not in body)
                )

            watching = asyncio.create_task(watch())
            try:
                await asyncio.sleep(0.2)
                await (producer.commit_transaction() if commit else producer.abort_transaction())
                await eventually(ready_again, timeout_s=30)
            finally:
                stop.set()
                await watching

            if commit:
                item = await views.get(f"/v1/catalogs/42/items/open-{RECORDS - 1}")
                assert item.status_code == 200, item.text
            else:
                assert (await views.get("/v1/catalogs/42/items/open-0")).status_code == 404
    finally:
        await producer.stop()
    assert seen
    for status, body in seen:
        assert status in (200, 503), (status, body)
        assert isinstance(body["lag"], int), body
        assert body["lag"] >= 0, body
        past = body.get("past_last_stable_offset", 0)
        assert isinstance(past, int), body
        assert 0 <= past <= RECORDS + 1, body
