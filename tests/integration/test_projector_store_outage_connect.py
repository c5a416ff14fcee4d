"""A view store whose host takes connections but never answers (a frozen host, a network that
drops the replies): a real PostgreSQL whose postmaster is stopped (SIGSTOP). The kernel still
completes each TCP handshake into its listen queue, so a new connection waits for an answer
that does not come. psycopg waits 130 s by default (no connect_timeout): each read held a
worker thread and answered after minutes, and the consumer sat in one connect as long. Now a
connect gives up after the store URL's connect_timeout (5 s unless the URL says), a read is a
503 and the consumer tries again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import psycopg

from projector.generations_postgres import PostgresGenerations
from tests.postgres import DROP_CLIENTS, LocalPostgres, own_postgres
from tests.projector_harness import projector_in_process
from tests.support import (
    caught_up,
    make_topics,
    price_wave,
    produce_events,
    projector_settings,
    shows_wave,
)

ITEMS = 5


def _resume(server: LocalPostgres, postmaster: int) -> None:
    os.kill(postmaster, signal.SIGCONT)
    if server.process is not None and server.process.pid != postmaster:
        # runuser (as root) stops itself when its child stops: else it never passes a SIGTERM on
        os.kill(server.process.pid, signal.SIGCONT)


async def test_a_store_that_never_answers_a_connect_is_a_503_in_bounded_time(
    kafka_bootstrap: str,
) -> None:
    with own_postgres() as server:  # a server of its own: this test freezes it
        url = server.create_database("store_connect")
        topics = await make_topics(kafka_bootstrap, partitions=1)
        settings = projector_settings(kafka_bootstrap, topics, Path("unused"), store_url=url)
        async with projector_in_process(settings, PostgresGenerations(url)) as (runtime, client):
            await produce_events(kafka_bootstrap, topics.product, price_wave(1, ITEMS))
            await caught_up(client, ITEMS, timeout_s=60)
            postmaster = server.postmaster
            with psycopg.connect(server.admin_url, autocommit=True) as admin:
                os.kill(postmaster, signal.SIGSTOP)  # connects now wait in its listen queue
                try:
                    admin.execute(DROP_CLIENTS)  # every connection the projector holds
                    started = time.monotonic()
                    answer = await asyncio.wait_for(client.get("/v1/catalogs"), 60)
                    took = time.monotonic() - started
                    assert answer.status_code == 503, answer.text
                    assert answer.headers["retry-after"] == "1"
                    assert took < 15, took  # the connect timeout, not psycopg's 130 s
                finally:
                    _resume(server, postmaster)
            await produce_events(kafka_bootstrap, topics.product, price_wave(2, ITEMS))
            await caught_up(client, 2 * ITEMS, timeout_s=60)
            await shows_wave(client, 2, ITEMS)
            assert runtime.failure is None
