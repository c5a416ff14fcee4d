"""The repeat window and the single flight against a real broker paused (SIGSTOP) under a
product's newer change: a repeat of the product's earlier postback (without DateLastUpdated: the
same content id, a change back) must be written after that change, never answered from memory
while the change is in flight, or after its write failed (timed out) yet its record landed once
the broker came back. Before, both repeats were answered 200 at once, while the broker was
stopped, and the topic ended with the change the platform had sent before them.

What is asserted comes from facts, not from timing: the broker is seen stopped (each JVM thread
in /proc) before anything is sent, so a 200 answered during the stop may only name a record
written before the pause; every 200 names its own record on the topic, at the offset it says;
and the repeat's record is after the newer change's (the topic ends with the repeat)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import uvicorn

from catalog_contract import codec
from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port
from receiver.app import create_app
from receiver.main import server_config
from tests.conftest import start_local_broker
from tests.paused_broker import module_broker, pause
from tests.support import (
    AUTH,
    SECRET,
    eventually,
    make_topics,
    read_topic,
    receiver_on_new_topics,
    receiver_settings,
    serves_ready,
)

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
OLD = {"CatalogId": "9", "CatalogItemId": "lamp-2", "CurrentPrice": "49.90"}
NEW = {**OLD, "CurrentPrice": "39.90"}
OLD_PRICE, NEW_PRICE = Decimal("49.90"), Decimal("39.90")

broker = module_broker("kafka-paused")


async def _on_topic(bootstrap: str, topic: str) -> dict[tuple[int, int], Decimal | None]:
    """(partition, offset) -> the price of the record there."""
    records = await read_topic(bootstrap, topic)
    return {(r.partition, r.offset): codec.decode(r.value).current_price for r in records}


def _at(answer: httpx.Response) -> tuple[int, int]:
    return answer.json()["partition"], answer.json()["offset"]


def _acknowledged(answer: httpx.Response, during_stop: bool, end_at_pause: int) -> bool:
    """A 200 is only for a record Kafka acknowledged. The broker is seen stopped (every thread)
    before anything is sent, so one answered during the stop can only name a record written
    before the pause (below the end offset then); a 503 is never a false acknowledgement."""
    return answer.status_code != 200 or not during_stop or answer.json()["offset"] < end_at_pause


async def test_a_repeat_while_the_newer_change_waits_on_a_paused_broker_is_written_after_it(
    broker: LocalBroker,
) -> None:
    bootstrap = broker.bootstrap_servers
    async with receiver_on_new_topics(bootstrap, produce_timeout_s=20.0) as (topics, receiver):
        first = await receiver.post(PATH, json=OLD, headers=AUTH)
        assert first.status_code == 200
        pause(broker, True)  # (returns once the broker is seen stopped)
        try:
            newer = asyncio.create_task(receiver.post(PATH, json=NEW, headers=AUTH))
            await asyncio.sleep(0.5)
            repeat = asyncio.create_task(receiver.post(PATH, json=OLD, headers=AUTH))
            await asyncio.sleep(1.0)
            during_stop = [newer.done(), repeat.done()]
        finally:
            pause(broker, False)
        answers = await asyncio.gather(newer, repeat)
    assert [a.status_code for a in answers] == [200, 200]
    end_at_pause = first.json()["offset"] + 1  # (the product's partition: first's record only)
    assert all(map(_acknowledged, answers, during_stop, [end_at_pause] * 2))
    # Each 200 names its own record: the newer change's, then the repeat's, after it. The old
    # code answered the repeat 200 from the window (the first record), the broker stopped; the
    # topic ended with 39.90, which the platform had sent before the repeat.
    on_topic = await _on_topic(broker.bootstrap_servers, topics.product)
    assert [on_topic[_at(a)] for a in (first, *answers)] == [OLD_PRICE, NEW_PRICE, OLD_PRICE]
    assert _at(first) < _at(answers[0]) < _at(answers[1])
    assert list(on_topic.values()) == [OLD_PRICE, NEW_PRICE, OLD_PRICE]


async def test_a_repeat_after_the_newer_change_timed_out_is_written_after_its_late_record(
    broker: LocalBroker,
) -> None:
    bootstrap = broker.bootstrap_servers
    async with receiver_on_new_topics(bootstrap, produce_timeout_s=3.0) as (topics, receiver):
        first = await receiver.post(PATH, json=OLD, headers=AUTH)
        assert first.status_code == 200
        pause(broker, True)  # (returns once the broker is seen stopped)
        try:
            newer = await receiver.post(PATH, json=NEW, headers=AUTH)
            repeat = asyncio.create_task(receiver.post(PATH, json=OLD, headers=AUTH))
            await asyncio.sleep(0.5)
            during_stop = repeat.done()
        finally:
            pause(broker, False)
        answer = await repeat
    end_at_pause = first.json()["offset"] + 1
    assert _acknowledged(newer, True, end_at_pause)
    assert newer.status_code == 503  # not acknowledged within 3 s ...
    assert _acknowledged(answer, during_stop, end_at_pause)
    assert answer.status_code == 200
    # ... yet its record landed once the broker was back; the repeat's record is after it. The
    # old code answered the repeat 200 from the window (the first record), the broker stopped:
    # the topic ended with 39.90.
    on_topic = await _on_topic(broker.bootstrap_servers, topics.product)
    assert list(on_topic.values()) == [OLD_PRICE, NEW_PRICE, OLD_PRICE]
    assert on_topic[_at(answer)] == OLD_PRICE
    assert _at(answer) == max(on_topic)


async def test_the_first_postback_whose_client_left_mid_write_still_answers_those_that_joined(
    broker: LocalBroker,
) -> None:
    """A real server (uvicorn, as `catalog-stream receiver` runs it): the client of the first
    postback disconnects while its write waits on the paused broker. The write goes on (uvicorn
    does not cancel the request's task), and the identical postbacks that joined it get its 200
    once Kafka acknowledged it: no 503, no hang, one record. (Passes on the old code too.)"""
    topics = await make_topics(broker.bootstrap_servers)
    port = free_port()
    settings = receiver_settings(
        broker.bootstrap_servers, topics, produce_timeout_s=20.0, port=port
    )
    server = uvicorn.Server(server_config(settings, create_app(settings)))
    serving = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}"
    body = json.dumps(OLD).encode()
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for _ in range(5)]
    try:
        await eventually(lambda: serves_ready(url), timeout_s=30)
        pause(broker, True)
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST %s HTTP/1.1\r\nhost: receiver\r\nx-postback-token: %s\r\n"
                b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                % (PATH.encode(), SECRET.encode(), len(body), body)
            )
            await writer.drain()
            await asyncio.sleep(0.5)  # the first postback's write waits on the paused broker
            joined = [
                asyncio.create_task(client.post(PATH, json=OLD, headers=AUTH)) for client in clients
            ]
            await asyncio.sleep(0.5)
            writer.close()  # the first one's client leaves mid-write
            await asyncio.sleep(0.5)
        finally:
            pause(broker, False)
        answers = await asyncio.gather(*joined)
        metrics = (await clients[0].get("/metrics")).text
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
        server.should_exit = True
        await serving
    assert [a.status_code for a in answers] == [200] * 5
    assert len({a.content for a in answers}) == 1
    assert len(await read_topic(broker.bootstrap_servers, topics.product)) == 1
    assert "receiver_duplicates_dropped_total 5.0" in metrics


async def test_postbacks_waiting_on_a_write_when_the_broker_is_killed_get_503_then_retry(
    tmp_path: Path,
) -> None:
    """The broker SIGKILLed under 20 identical postbacks in flight (one write, 19 waiting on
    it), started again later: every one is answered 503 with the same reason (none 200: nothing
    was acknowledged), nothing of the flight is kept, and a copy sent once the broker is back is
    written and answered 200, after the killed write's record if that landed once the broker was
    back. (Passes on the old code too.)"""
    killed = start_local_broker(tmp_path / "kafka")
    try:
        bootstrap = killed.bootstrap_servers
        async with receiver_on_new_topics(bootstrap, produce_timeout_s=4.0) as (topics, receiver):
            pause(killed, True)
            posts = [
                asyncio.create_task(receiver.post(PATH, json=OLD, headers=AUTH)) for _ in range(20)
            ]
            await asyncio.sleep(1.0)
            killed.kill()
            answers = await asyncio.gather(*posts)
            killed.start()

            async def written() -> httpx.Response | None:
                again = await receiver.post(PATH, json=OLD, headers=AUTH)
                return again if again.status_code == 200 else None

            again = await eventually(written, timeout_s=60, every_s=1.0)
            metrics = (await receiver.get("/metrics")).text
        records = await read_topic(killed.bootstrap_servers, topics.product)
    finally:
        killed.stop()
    assert [a.status_code for a in answers] == [503] * 20
    assert len({a.json()["detail"] for a in answers}) == 1
    assert 'receiver_requests_total{outcome="unavailable"} 20.0' in metrics
    # The killed write's record may land once the broker is back (its batch is retried): the
    # 503s were still right (not acknowledged in time); the copy sent again is written after it.
    assert [codec.decode(r.value).current_price for r in records] in (
        [Decimal("49.90")],
        [Decimal("49.90")] * 2,
    )
    assert again.json()["offset"] == records[-1].offset
