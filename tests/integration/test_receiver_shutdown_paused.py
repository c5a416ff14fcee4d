"""A SIGTERM to a real receiver process (`catalog-stream receiver`, uvicorn) while the real broker
is stopped (SIGSTOP: its connections stay open, nothing answers) and postbacks wait for their
acknowledgement: the process exits within CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S, every postback it
answered 200 is on the topic, none it did not see acknowledged is answered 200 (each a 503 or a
connection closed without an answer), and the shutdown logs one line with how many were left
unacknowledged, and no "Future exception was never retrieved".

Fails on the code before: uvicorn waited for the postbacks in flight (each up to the 30 s
produce timeout), then the flush waited another produce timeout: the process still ran 12 s
after the SIGTERM (about 60 s in all, past Kubernetes' 30 s grace); with a short produce timeout,
asyncio logged "Future exception was never retrieved" once per failed batch, and no line said
how many were left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from catalog_contract import codec
from catalog_stream.broker import LocalBroker
from tests.paused_broker import module_broker, paused
from tests.support import AUTH, PROCESS_SLACK_S, exited, read_topic_once_back, receiver_process

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
WAITING = 20  # postbacks sent once the broker is stopped

broker = module_broker("kafka-shutdown-paused")


@dataclass
class Shutdown:
    exit_s: float | None  # None: still running after the test's limit (then killed)
    before: list[httpx.Response]  # answered with the broker up
    during: list[httpx.Response | BaseException]  # sent with the broker stopped
    log: str
    products: dict[tuple[int, int], str]  # (partition, offset) -> item id, on the topic


def _postback(item: str) -> dict[str, str]:
    return {"CatalogId": "4", "CatalogItemId": item}


def _read(log: Path) -> str:
    return log.read_text()


async def _shutdown_while_stopped(
    broker: LocalBroker, log: Path, limit_s: float, **variables: str
) -> Shutdown:
    variables = {f"CATALOG_RECEIVER_{name.upper()}": value for name, value in variables.items()}
    async with receiver_process(broker.bootstrap_servers, log, **variables) as receiver:
        process = receiver.process
        client = httpx.AsyncClient(base_url=receiver.url, timeout=90)
        posts: list[asyncio.Task[httpx.Response]] = []
        try:
            before = [
                await client.post(
                    PATH, json={"CatalogId": "4", "CatalogItemId": f"up{n}"}, headers=AUTH
                )
                for n in range(5)
            ]
            with paused(broker):
                posts = [
                    asyncio.create_task(client.post(PATH, json=_postback(f"down{n}"), headers=AUTH))
                    for n in range(WAITING)
                ]
                await asyncio.sleep(1.5)  # every one waits on the stopped broker
                process.send_signal(signal.SIGTERM)
                exit_s = await exited(process, limit_s)
                if exit_s is None:
                    process.kill()
                during = await asyncio.wait_for(asyncio.gather(*posts, return_exceptions=True), 30)
        finally:
            for post in posts:
                post.cancel()
            await client.aclose()
    records = await read_topic_once_back(broker.bootstrap_servers, receiver.topics.product)
    products = {(r.partition, r.offset): codec.decode(r.value).catalog_item_id for r in records}
    return Shutdown(exit_s, before, list(during), _read(log), products)


def _acknowledged_ones_on_the_topic(shutdown: Shutdown) -> None:
    answered = [a for a in shutdown.during if isinstance(a, httpx.Response)]
    # Nothing can be acknowledged while the broker is stopped: no 200, each a 503 or a
    # connection closed without an answer.
    assert [a.status_code for a in answered if a.status_code != 503] == []
    assert [a.status_code for a in shutdown.before] == [200] * 5
    for number, answer in enumerate(shutdown.before):
        body = answer.json()
        assert shutdown.products[(body["partition"], body["offset"])] == f"up{number}"


def _log_lines(log: str) -> list[dict[str, object]]:
    lines = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(line))
    return lines


async def test_a_sigterm_with_the_broker_stopped_exits_within_the_shutdown_budget(
    broker: LocalBroker, tmp_path: Path
) -> None:
    # The default produce timeout (30 s): postbacks in flight would wait it out.
    budget_s = 8.0
    shutdown = await _shutdown_while_stopped(
        broker,
        tmp_path / "receiver.log",
        budget_s + PROCESS_SLACK_S,
        shutdown_timeout_s=str(budget_s),
    )
    assert shutdown.exit_s is not None, f"still running {budget_s + PROCESS_SLACK_S}s after SIGTERM"
    assert shutdown.exit_s < budget_s + PROCESS_SLACK_S
    _acknowledged_ones_on_the_topic(shutdown)
    # Every one was still waiting when the budget ran out: answered 503 then, and said so.
    assert [a.status_code for a in shutdown.during if isinstance(a, httpx.Response)] == [
        503
    ] * WAITING
    left = [e for e in _log_lines(shutdown.log) if e.get("unacknowledged") is not None]
    assert [(e["unacknowledged"], e["waiting"]) for e in left] == [(WAITING, WAITING)]


async def test_a_sigterm_after_the_postbacks_timed_out_logs_one_line_and_no_lost_futures(
    broker: LocalBroker, tmp_path: Path
) -> None:
    # A short produce timeout: the postbacks are answered 503 before the stop, their records are
    # still in the producer when the shutdown gives up on them.
    shutdown = await _shutdown_while_stopped(
        broker, tmp_path / "receiver.log", 30, produce_timeout_s="2", shutdown_timeout_s="8"
    )
    assert shutdown.exit_s is not None
    _acknowledged_ones_on_the_topic(shutdown)
    assert "never retrieved" not in shutdown.log
    assert "Traceback" not in shutdown.log
    left = [e for e in _log_lines(shutdown.log) if e.get("unacknowledged") is not None]
    assert [(e["unacknowledged"], e["waiting"]) for e in left] == [(WAITING, 0)]
