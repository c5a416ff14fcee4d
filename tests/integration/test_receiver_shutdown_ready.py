"""A SIGTERM to a real receiver process (`catalog-stream receiver`, uvicorn) while a GET /readyz
waits on the real broker, stopped (SIGSTOP: its connection stays open, nothing answers): the probe
is answered 503 not-ready (problem+json) at once, well before the shutdown's give-up point, the
process exits within its budget, and the log holds no traceback and no 500.

Fails on the code before: the probe waited for the metadata up to the produce timeout (30 s),
past the give-up point; uvicorn's backstop (timeout_graceful_shutdown) then cancelled it and
answered 500, logging the CancelledError's traceback."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from catalog_stream.broker import LocalBroker
from tests.paused_broker import module_broker, paused
from tests.support import PROCESS_SLACK_S, exited, receiver_process

pytestmark = pytest.mark.broker
BUDGET_S = 8.0  # CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S: give-up point 6 s after the SIGTERM

broker = module_broker("kafka-shutdown-ready")


async def _answered_at(probe: asyncio.Task[httpx.Response], since: float) -> float:
    await asyncio.wait({probe})
    return time.monotonic() - since


async def test_a_probe_waiting_on_a_hung_broker_at_sigterm_is_answered_503_at_once(
    broker: LocalBroker, tmp_path: Path
) -> None:
    log = tmp_path / "receiver.log"
    budget = {"CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S": str(BUDGET_S)}
    async with (
        receiver_process(broker.bootstrap_servers, log, **budget) as receiver,
        httpx.AsyncClient(base_url=receiver.url, timeout=60) as client,
    ):
        with paused(broker):
            probe = asyncio.create_task(client.get("/readyz"))
            await asyncio.sleep(0.3)  # sent; waits on the stopped broker (the code before)
            signalled = time.monotonic()
            receiver.process.send_signal(signal.SIGTERM)
            answered = asyncio.create_task(_answered_at(probe, signalled))
            exit_s = await exited(receiver.process, BUDGET_S + PROCESS_SLACK_S)
            answered_s = await asyncio.wait_for(answered, 30)
    text = log.read_text()
    answer = probe.result()  # (an answer, not a closed connection)
    assert (answer.status_code, answer.headers["content-type"]) == (
        503,
        "application/problem+json",
    ), text
    assert answer.json()["type"].endswith("not-ready")
    # At once (the code before: cancelled by uvicorn's backstop, 7 s after the SIGTERM).
    assert answered_s < 2.0
    assert exit_s is not None
    assert exit_s < BUDGET_S + PROCESS_SLACK_S
    assert "Traceback" not in text
    assert "Exception in ASGI application" not in text
