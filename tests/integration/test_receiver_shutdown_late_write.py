"""A postback whose write reaches the producer only after the shutdown gave up (its head came
before the SIGTERM, its body after the give-up point: a short CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S
leaves the body its whole request_timeout_s), with the broker stopped (SIGSTOP): the process still
exits within the shutdown budget, and that postback is never answered 200.

Fails on the code before: the give-up ran once, at its time, found nothing to give up and left
the sender going; the stop's own give-up reused that finished one, so aiokafka's `stop` flushed
the late record without end: the process still ran long past its budget."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from catalog_stream.broker import LocalBroker
from tests.paused_broker import module_broker, paused
from tests.support import PROCESS_SLACK_S, SECRET, exited, receiver_process

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
BUDGET_S = 4.0  # the give-up at 3 s, uvicorn's own wait ends at 4 s

broker = module_broker("kafka-shutdown-late")


async def test_a_write_after_the_give_up_point_does_not_hang_the_shutdown(
    broker: LocalBroker, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    budget = {"CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S": str(BUDGET_S)}
    async with receiver_process(broker.bootstrap_servers, log, **budget) as receiver:
        process = receiver.process
        writer: asyncio.StreamWriter | None = None
        try:
            body = json.dumps({"CatalogId": "4", "CatalogItemId": "late"}).encode()
            reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
            writer.write(
                f"POST {PATH} HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
                f"X-Postback-Token: {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body[:5]
            )
            await writer.drain()
            await asyncio.sleep(0.5)  # the head is in: the request is in flight
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            # Past the give-up point, before uvicorn's wait ends.
            await asyncio.sleep(BUDGET_S - 0.5)
            with paused(broker):
                writer.write(body[5:])
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(), BUDGET_S + PROCESS_SLACK_S)
                exit_s = await exited(process, BUDGET_S + PROCESS_SLACK_S)
            assert b" 200 " not in answer.split(b"\r\n")[0]
            assert exit_s is not None, (
                f"still running {time.monotonic() - signalled:.1f}s after SIGTERM"
            )
            assert time.monotonic() - signalled < BUDGET_S + PROCESS_SLACK_S
        finally:
            if writer is not None:
                writer.close()
