"""The read API's X-View-Lag says 0 once the projector is ready at lag 0, when the partition ends
with offsets that hold no record (a transaction's marker). The header was made again only when
the applied offsets or the ends moved, not when the loop noted such offsets passed: after a
transaction committed last on a partition, /readyz said lag 0 and every answer said
X-View-Lag: 1 until another record came. Fails on the code before ('1')."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records
from projector.generations import SqliteGenerations
from tests.factories import change
from tests.support import eventually, make_topics, projector_settings, running_projector

pytestmark = pytest.mark.broker


async def test_the_lag_header_is_0_past_a_transaction_marker_at_the_end(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"test-tx-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            records = product_records(change("marked", "tx", price="1.00"))
            for value in records.values:
                await producer.send_and_wait(
                    topics.product, value, key=records.key, headers=records.headers
                )
    finally:
        await producer.stop()
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db", ready_max_lag=0)
    async with running_projector(settings, SqliteGenerations(tmp_path / "views.db")) as projector:

        async def ready() -> bool:
            return (await projector.get("/readyz")).status_code == 200

        await eventually(ready, timeout_s=60)
        answer = await projector.get("/v1/catalogs/tx/items/marked")
        assert answer.status_code == 200
        assert answer.headers["X-View-Lag"] == "0"
