"""Records of an aborted Kafka transaction never reach the views, the change feed, a rebuild or a
replay. Nothing of ours writes transactionally, but any other producer on the topic may (Kafka
Connect, Streams, a tool), and aiokafka's consumers read uncommitted records by default: before
KafkaConnection.consumer_options (read_committed, for every consumer), the projector served an
aborted price, its feed told of it, and `catalog-stream replay` wrote it out. Both tests fail on
the code before; with read_committed, the lag still reaches 0 past the aborted records and the
transaction markers (an aborted transaction last on the partition included)."""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.events import ProductChange
from catalog_contract.writing import product_records
from projector.generations import SqliteGenerations
from tests.factories import change
from tests.support import (
    Topics,
    eventually,
    make_topics,
    produce_events,
    projector_settings,
    rebuilt,
    run_cli,
    running_projector,
)

pytestmark = pytest.mark.broker
CATALOG = "tx"


async def transaction(
    bootstrap: str, topic: str, events: list[ProductChange], commit: bool
) -> None:
    """The events written by a transactional producer, each acknowledged, then the transaction
    committed or aborted."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"test-tx-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        for event in events:
            records = product_records(event)
            for value in records.values:
                await producer.send_and_wait(topic, value, key=records.key, headers=records.headers)
        if commit:
            await producer.commit_transaction()
        else:
            await producer.abort_transaction()
    finally:
        await producer.stop()


async def written(
    bootstrap: str, partitions: int = 1
) -> tuple[Topics, list[ProductChange], list[ProductChange]]:
    """An aborted transaction, a committed one, plain records, and an aborted transaction last
    (one of its records a new price for a committed item); on one partition, each is last
    there in turn. The events kept, and the aborted ones."""
    topics = await make_topics(bootstrap, partitions=partitions)
    aborted = [change(f"aborted-{n}", CATALOG, minute=n, price="9.99") for n in range(3)]
    committed = [change(f"committed-{n}", CATALOG, minute=n, price="1.00") for n in range(3)]
    plain = [change(f"plain-{n}", CATALOG, minute=n, price="2.00") for n in range(2)]
    aborted_last = [
        change("committed-0", CATALOG, minute=50, price="666.00"),
        change("aborted-last", CATALOG, minute=50, price="5.00"),
    ]
    await transaction(bootstrap, topics.product, aborted, commit=False)
    await transaction(bootstrap, topics.product, committed, commit=True)
    await produce_events(bootstrap, topics.product, plain)
    await transaction(bootstrap, topics.product, aborted_last, commit=False)
    return topics, committed + plain, aborted + aborted_last


async def shows_only(projector: httpx.AsyncClient, kept: list[ProductChange]) -> None:
    """Ready at lag 0 (the settings' ready_max_lag), the views and the feed holding exactly the
    kept events."""

    async def ready() -> bool:
        return (await projector.get("/readyz")).status_code == 200

    await eventually(ready, timeout_s=60)
    items = (await projector.get(f"/v1/catalogs/{CATALOG}/items", params={"limit": 100})).json()
    prices = {item["item_id"]: Decimal(item["current_price"]) for item in items["items"]}
    assert prices == {event.catalog_item_id: event.current_price for event in kept}
    feed = (await projector.get("/v1/changes", params={"limit": 1000})).json()["changes"]
    assert {c["event_id"] for c in feed} - {None} <= {str(e.event_id) for e in kept}, feed
    assert (await projector.get("/v1/catalogs")).headers["X-View-Lag"] == "0"


@pytest.mark.parametrize("partitions", [1, 3])
async def test_aborted_records_reach_neither_the_views_nor_a_rebuild(
    kafka_bootstrap: str, tmp_path: Path, partitions: int, caplog: pytest.LogCaptureFixture
) -> None:
    """On three partitions the rebuild loads in parts (rebuild_split_worker's consumers); on
    one, the builder loads it alone."""
    caplog.set_level(logging.INFO, logger="projector.rebuild_split")
    topics, kept, _ = await written(kafka_bootstrap, partitions)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db", ready_max_lag=0)
    async with running_projector(settings, SqliteGenerations(tmp_path / "views.db")) as projector:
        await shows_only(projector, kept)
        status = await rebuilt(projector, timeout_s=120)
        assert status["error"] is None, status
        split = "rebuild loaded in parts" in caplog.text
        assert split == (partitions > 1), caplog.text[-3000:]
        await shows_only(projector, kept)


async def test_a_replay_writes_out_no_aborted_record(kafka_bootstrap: str, tmp_path: Path) -> None:
    topics, kept, aborted = await written(kafka_bootstrap)
    output = tmp_path / "replay.jsonl"
    code, _, summary = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product,
        "--output", str(output),
    )  # fmt: skip
    assert code == 0, summary
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(r["event"]["event_id"] for r in rows) == sorted(str(e.event_id) for e in kept)
    assert not {str(e.event_id) for e in aborted} & {r["event"]["event_id"] for r in rows}


async def test_records_behind_an_open_transaction_wait_for_its_end(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """read_committed stops at the last stable offset: a plain record written after a
    transaction still open is not applied before the transaction ends, the lag counts both
    meanwhile (the end is the high watermark) while /readyz stays ready (no instance can read
    past the stable offset: test_projector_open_transaction); once it commits, both are applied
    and the lag is 0 again. (On the code before, both were applied at once.)"""
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "views.db", ready_max_lag=0)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"test-tx-{uuid.uuid4().hex[:10]}"
    )
    await producer.start()
    try:
        async with running_projector(settings, SqliteGenerations(tmp_path / "views.db")) as views:

            async def lag(expected: str) -> bool:
                response = await views.get("/v1/catalogs")
                return bool(response.headers.get("X-View-Lag") == expected)

            await eventually(lambda: lag("0"), timeout_s=60)
            await producer.begin_transaction()
            records = product_records(change("open", CATALOG, price="3.00"))
            for value in records.values:
                await producer.send_and_wait(
                    topics.product, value, key=records.key, headers=records.headers
                )
            await produce_events(kafka_bootstrap, topics.product, [change("after", CATALOG)])
            await eventually(lambda: lag("2"), timeout_s=30)
            ready = await views.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["past_last_stable_offset"] == 2
            assert (await views.get(f"/v1/catalogs/{CATALOG}/items/after")).status_code == 404
            await producer.commit_transaction()
            await eventually(lambda: lag("0"), timeout_s=30)
            for item in ("open", "after"):
                answer = await views.get(f"/v1/catalogs/{CATALOG}/items/{item}")
                assert answer.status_code == 200
            assert (await views.get("/readyz")).status_code == 200
    finally:
        await producer.stop()
