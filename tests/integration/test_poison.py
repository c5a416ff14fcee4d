"""Records the projector cannot apply go to its dead-letter topic and the views move on; a
consumer that dies makes the projector unready instead of a zombie answering "ready"."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract import codec, headers
from catalog_contract.keys import product_key
from catalog_stream.ports import free_port
from projector import main
from projector.batch import BatchPlan
from projector.postgres_store import PostgresStore
from projector.sqlite_store import SqliteStore
from projector.store import ViewStore
from tests.factories import change
from tests.postgres import LocalPostgres
from tests.support import (
    Only,
    Topics,
    caught_up,
    eventually,
    projector_settings,
    read_topic,
    running_projector,
)

pytestmark = pytest.mark.broker


async def _send(bootstrap: str, topic: str, records: list[tuple[bytes, bytes | None, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, record_headers in records:
            # One partition: the poison records come before the good one.
            await producer.send(topic, value, key=key, headers=record_headers, partition=0)
        await producer.flush()
    finally:
        await producer.stop()


async def _settled(client: httpx.AsyncClient, count: int) -> None:
    await caught_up(client, count)


def _dead_lettered(metrics: str) -> str:
    [line] = [m for m in metrics.splitlines() if m.startswith("projector_dead_lettered_total")]
    return line


async def test_poison_records_are_dead_lettered_and_the_views_move_on(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    good = change("good", price="2.00", name="Cup")
    key = product_key("42", "bad")
    garbage = b"\xc3\x01not avro at all"
    naive = [(headers.SOURCE_UPDATED_AT, b"2026-11-27T12:00:00")]  # no time zone
    await _send(
        kafka_bootstrap,
        topics.product,
        [
            (key, garbage, []),  # (a) undecodable: was skipped, silently missing
            (key, None, naive),  # (b) made the fold raise TypeError and end the consumer
            (product_key("42", "good"), codec.encode(good), headers.for_change(good)),
        ],
    )
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with running_projector(settings) as client:
        await _settled(client, 3)
        item = await client.get("/v1/catalogs/42/items/good")

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready)  # the consumer lives on
        metrics = (await client.get("/metrics")).text
    assert item.status_code == 200
    assert _dead_lettered(metrics) == "projector_dead_lettered_total 2.0"
    kept = await read_topic(kafka_bootstrap, topics.projector_dead_letter)
    assert [(r.key, r.value) for r in kept] == [(key, garbage), (key, None)]
    said = [dict(r.headers) for r in kept]
    assert [s[headers.SOURCE_POSITION] for s in said] == [b"0:0", b"0:1"]
    assert {s[headers.SOURCE_TOPIC] for s in said} == {topics.product.encode()}
    assert b"time zone" in said[1][headers.REASON]
    assert said[1][headers.SOURCE_UPDATED_AT] == b"2026-11-27T12:00:00"  # its own headers kept


async def test_a_value_postgresql_refuses_is_dead_lettered_not_retried_forever(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, postgres: LocalPostgres
) -> None:
    # (c) A NUL character: psycopg raised DataError and the batch was retried every second.
    poison = change("nul", price="1.00", name="bad\x00name")
    good = change("good", price="2.00", name="Cup")
    await _send(
        kafka_bootstrap,
        topics.product,
        [
            (product_key("42", e.catalog_item_id), codec.encode(e), headers.for_change(e))
            for e in (poison, good)
        ],
    )
    store = PostgresStore(postgres.create_database(f"nul_{uuid.uuid4().hex[:10]}"))
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "unused.db")
    try:
        async with running_projector(settings, store) as client:
            await _settled(client, 2)
            good_item = await client.get("/v1/catalogs/42/items/good")
            refused = await client.get("/v1/catalogs/42/items/nul")
            metrics = (await client.get("/metrics")).text
    finally:
        store.close()
    assert (good_item.status_code, refused.status_code) == (200, 404)
    assert _dead_lettered(metrics) == "projector_dead_lettered_total 1.0"
    [kept] = await read_topic(kafka_bootstrap, topics.projector_dead_letter)
    assert kept.value == codec.encode(poison)
    assert b"refused" in dict(kept.headers)[headers.REASON]


class _BrokenStore(SqliteStore):
    """A store with a bug the projector does not expect (not one of its own errors)."""

    def write(self, topic: str, plan: BatchPlan) -> None:
        raise RuntimeError("a bug")


async def test_a_dead_consumer_makes_the_projector_unready_and_unhealthy(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    good = change("good", price="2.00", name="Cup")
    await _send(
        kafka_bootstrap,
        topics.product,
        [(product_key("42", "good"), codec.encode(good), headers.for_change(good))],
    )
    store: ViewStore = _BrokenStore(tmp_path / "v.db")
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with running_projector(settings, Only(store)) as client:

        async def failed() -> bool:
            return (await client.get("/readyz")).status_code == 503 and (
                await client.get("/healthz")
            ).status_code == 503

        await eventually(failed)
        answer = (await client.get("/readyz")).json()
    assert answer["status"] == "failed"
    assert "a bug" in answer["error"]


async def test_catalog_stream_projector_exits_1_when_its_consumer_dies(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = change("good", price="2.00", name="Cup")
    await _send(
        kafka_bootstrap,
        topics.product,
        [(product_key("42", "good"), codec.encode(good), headers.for_change(good))],
    )
    broken = _BrokenStore(tmp_path / "v.db")
    monkeypatch.setattr(main, "open_generations", lambda settings: Only(broken))
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db", port=free_port())

    def serve() -> object:
        try:
            main.run(settings)
        except SystemExit as exited:  # (asyncio would not let it through a thread's future)
            return exited.code
        return "still serving"

    # The server stops by itself, and says so, for its supervisor to restart it.
    assert await asyncio.wait_for(asyncio.to_thread(serve), 120) == 1
