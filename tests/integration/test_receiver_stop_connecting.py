"""Stopping the publisher while it is still connecting to a broker that does not answer (the real
broker SIGSTOPped before the start: its port accepts connections, nothing answers), as a SIGTERM
soon after the receiver started does: nothing of the producer is left behind, neither a
connection to the broker nor one of aiokafka's tasks, and the stop returns at once.

Fails on the code before: the stop cancelled the connector inside aiokafka's start and nobody
stopped the producer: "Unclosed AIOKafkaProducer" (and its connection to the broker closed only
when the garbage collector found it)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import warnings
from pathlib import Path

import pytest

from catalog_stream.broker import LocalBroker
from receiver.publisher import Publisher
from tests.aiokafka_tasks import tasks_talking_to
from tests.paused_broker import module_broker, paused
from tests.support import Topics, receiver_settings

pytestmark = pytest.mark.broker

broker = module_broker("kafka-stop-connecting")


def _connections_to(port: int) -> int:
    """This process's established TCP connections to `port` (from /proc)."""
    ours = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                ours.add(target[len("socket:[") : -1])
    found = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in ours:
                found += 1
    return found


async def test_a_stop_while_connecting_leaves_no_connection_and_no_task(
    broker: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    port = int(broker.bootstrap_servers.rsplit(":", 1)[1])
    topics = Topics(product="test.products.never", dead_letter="test.dead-letters.never")
    publisher = Publisher(receiver_settings(broker.bootstrap_servers, topics))
    tasks_before = tasks_talking_to(port)
    with paused(broker), warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", ResourceWarning)
        await asyncio.wait_for(publisher.start(), 30)
        # aiokafka's start connects, then waits for the broker's metadata (up to its request
        # time-out, 10 s here): the stop comes meanwhile.
        await asyncio.sleep(1.0)
        connecting = _connections_to(port)
        tasks_connecting = tasks_talking_to(port)
        started = time.monotonic()
        await asyncio.wait_for(publisher.stop(), 30)
        stopping_s = time.monotonic() - started
        await asyncio.sleep(0.2)  # (a connection's closing takes a turn of the loop)
        left = _connections_to(port)
        tasks_left = tasks_talking_to(port)
        gc.collect()  # (what was left unclosed says so when collected)
        await asyncio.sleep(0.1)
    unclosed = [str(w.message) for w in warned if "Unclosed" in str(w.message)]
    unclosed += [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
    assert unclosed == []
    assert connecting >= 1  # (the start was under way)
    assert tasks_connecting != tasks_before  # (its tasks are seen: they must be gone now)
    assert left == 0
    assert tasks_left == tasks_before
    assert not publisher.connected
    assert stopping_s < 5
