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

from catalog_stream.broker import LocalBroker, free_port
from tests.integration.test_receiver_shutdown_paused import SLACK_S, _exited, _start_receiver
from tests.paused_broker import module_broker, paused
from tests.support import eventually, make_topics, receiver_env, serves_ready

pytestmark = pytest.mark.broker
BUDGET_S = 8.0  # CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S: give-up point 6 s after the SIGTERM

broker = module_broker("kafka-shutdown-ready")


async def _answered_at(probe: asyncio.Task[httpx.Response], since: float) -> float:
    await asyncio.wait({probe})
    return time.monotonic() - since


async def test_a_probe_waiting_on_a_hung_broker_at_sigterm_is_answered_503_at_once(
    broker: LocalBroker, tmp_path: Path
) -> None:
    topics = await make_topics(broker.bootstrap_servers)
    port = free_port()
    env = receiver_env(
        broker.bootstrap_servers,
        topics,
        port,
        CATALOG_LOG_LEVEL="INFO",
        CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S=str(BUDGET_S),
    )
    log = tmp_path / "receiver.log"
    process = _start_receiver(env, log)
    url = f"http://127.0.0.1:{port}"
    client = httpx.AsyncClient(base_url=url, timeout=60)
    try:
        await eventually(lambda: serves_ready(url), timeout_s=60)
        with paused(broker):
            probe = asyncio.create_task(client.get("/readyz"))
            await asyncio.sleep(0.3)  # sent; waits on the stopped broker (the code before)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            answered = asyncio.create_task(_answered_at(probe, signalled))
            exit_s = await _exited(process, BUDGET_S + SLACK_S)
            answered_s = await asyncio.wait_for(answered, 30)
    finally:
        await client.aclose()
        if process.poll() is None:
            process.kill()
        process.wait()
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
    assert exit_s < BUDGET_S + SLACK_S
    assert "Traceback" not in text
    assert "Exception in ASGI application" not in text
