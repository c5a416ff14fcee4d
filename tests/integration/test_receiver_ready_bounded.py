"""The receiver's /readyz against a real broker that hangs (SIGSTOP: connections stay open, nothing
answers), is killed, or is up while the receiver's shutdown began.

Fail on the code before: with the broker hung, /readyz waited for the metadata request up to the
produce timeout (30 s by default), past any probe's own time-out; with the broker killed it
answered 200 "ready" from the metadata it had before (the failed update was not looked at); and
a receiver whose shutdown began still said ready."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from catalog_stream.broker import LocalBroker
from receiver.app import create_app
from tests.conftest import start_local_broker
from tests.paused_broker import module_broker, paused
from tests.support import (
    _is_ready,
    eventually,
    make_topics,
    receiver_on_new_topics,
    receiver_settings,
)

pytestmark = pytest.mark.broker
READY_WAIT_S = 0.8  # receiver.publisher.READY_WAIT_S (not imported: the code before lacks it)
SLACK_S = 1.5  # a loaded 2-core machine

broker = module_broker("kafka-ready")


async def test_ready_with_the_broker_hung_answers_503_within_its_bound(
    broker: LocalBroker,
) -> None:
    # The default produce timeout: the code before waited that long for the metadata.
    bootstrap = broker.bootstrap_servers
    async with receiver_on_new_topics(bootstrap, produce_timeout_s=30.0) as (_, receiver):
        with paused(broker):
            started = time.monotonic()
            probes = await asyncio.wait_for(
                asyncio.gather(*(receiver.get("/readyz") for _ in range(3))), 15
            )
            took_s = time.monotonic() - started
            again = await asyncio.wait_for(receiver.get("/readyz"), 15)
        assert [p.status_code for p in probes] == [503] * 3
        assert again.status_code == 503
        assert probes[0].headers["content-type"] == "application/problem+json"
        assert probes[0].json()["type"].endswith("not-ready")
        assert took_s < READY_WAIT_S + SLACK_S
        await eventually(lambda: _is_ready(receiver))  # the broker answers again: ready again


async def test_ready_once_the_shutdown_began_is_503_at_once_with_the_broker_up(
    broker: LocalBroker,
) -> None:
    topics = await make_topics(broker.bootstrap_servers)
    settings = receiver_settings(broker.bootstrap_servers, topics)
    app = create_app(settings)  # (not running_receiver's: its shutdown is begun by hand here)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            await eventually(lambda: _is_ready(client))  # connected in the background
            assert app.shutdown_begins is not None
            app.shutdown_begins()  # as receiver.main's server does at SIGTERM
            started = time.monotonic()
            answer = await client.get("/readyz")
            took_s = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("not-ready")
    assert took_s < 0.5


async def test_ready_with_the_broker_killed_is_503(tmp_path: Path) -> None:
    killed = start_local_broker(tmp_path / "kafka")
    try:
        bootstrap = killed.bootstrap_servers
        async with receiver_on_new_topics(bootstrap, produce_timeout_s=30.0) as (_, receiver):
            killed.kill()
            started = time.monotonic()
            answers = [await receiver.get("/readyz") for _ in range(3)]
            took_s = time.monotonic() - started
    finally:
        killed.kill()
    # The code before: 200 "ready" each time, from the metadata it had before the kill.
    assert [a.status_code for a in answers] == [503] * 3
    assert took_s < 3 * (READY_WAIT_S + SLACK_S)
