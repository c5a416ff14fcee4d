"""A SIGTERM to a real receiver (one process, or two workers) while 64 clients keep posting, with
the real broker up, or stopped (SIGSTOP) and let go on (SIGCONT) just around the point where the
shutdown gives up: every postback answered 200 is on the topic at the partition and offset it was
told; with the broker up, none is answered 503 (each in flight at the SIGTERM is acknowledged in
time); the process exits within its shutdown budget."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from catalog_contract import codec
from catalog_stream.broker import LocalBroker
from tests.paused_broker import module_broker, pause
from tests.support import (
    AUTH,
    PROCESS_SLACK_S,
    exited,
    read_topic_once_back,
    receiver_process,
)

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"
CLIENTS = 64

broker = module_broker("kafka-shutdown-load")


@dataclass
class Answers:
    ok: dict[str, tuple[int, int]] = field(default_factory=dict)  # item -> (partition, offset)
    statuses: dict[int, int] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # answered 503
    unanswered: int = 0


async def _client(url: str, number: int, answers: Answers, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        sent = 0
        while not stop.is_set():
            item = f"c{number}-{sent}"
            sent += 1
            try:
                answer = await client.post(
                    PATH, json={"CatalogId": "4", "CatalogItemId": item}, headers=AUTH
                )
            except httpx.HTTPError:
                answers.unanswered += 1
                await asyncio.sleep(0.05)
                continue
            answers.statuses[answer.status_code] = answers.statuses.get(answer.status_code, 0) + 1
            if answer.status_code == 200:
                body = answer.json()
                answers.ok[item] = (body["partition"], body["offset"])
            elif answer.status_code == 503:
                answers.refused.add(item)


async def _sigterm_under_load(
    broker: LocalBroker,
    log: Path,
    budget_s: float,
    workers: int,
    pause_around_s: float | None,
    kill: bool = False,
) -> tuple[float | None, Answers, dict[tuple[int, int], str]]:
    """`pause_around_s`: the broker stopped a second before the SIGTERM and let go on this long
    after it (None: up all along); `kill`: the broker killed (SIGKILL) a second before the
    SIGTERM, started again once the receiver exited."""
    variables = {
        "CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S": str(budget_s),
        "CATALOG_RECEIVER_WORKERS": str(workers),
    }
    answers = Answers()
    stop = asyncio.Event()
    clients: list[asyncio.Task[None]] = []
    paused = False
    try:
        async with receiver_process(broker.bootstrap_servers, log, **variables) as receiver:
            process, url = receiver.process, receiver.url
            try:
                clients = [
                    asyncio.create_task(_client(url, n, answers, stop)) for n in range(CLIENTS)
                ]
                started = time.monotonic()
                while len(answers.ok) < 4 * CLIENTS:  # under load, acknowledged
                    assert time.monotonic() - started < 60, answers
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)
                if kill:
                    broker.kill()
                    await asyncio.sleep(1)
                if pause_around_s is not None:
                    pause(broker, True)
                    paused = True
                    await asyncio.sleep(1)
                process.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                exiting = asyncio.create_task(exited(process, budget_s + PROCESS_SLACK_S))
                if pause_around_s is not None:
                    await asyncio.wait({exiting}, timeout=pause_around_s)
                    pause(broker, False)
                    paused = False
                exit_s = await exiting
                if exit_s is not None:
                    exit_s = time.monotonic() - signalled
                stop.set()
                await asyncio.wait_for(asyncio.gather(*clients), 70)
            finally:
                if paused:
                    pause(broker, False)
                stop.set()
                for task in clients:
                    task.cancel()
    finally:
        if kill:
            broker.start()
    records = await read_topic_once_back(broker.bootstrap_servers, receiver.topics.product)
    products = {(r.partition, r.offset): codec.decode(r.value).catalog_item_id for r in records}
    return exit_s, answers, products


def _every_200_on_the_topic(answers: Answers, products: dict[tuple[int, int], str]) -> None:
    assert answers.ok, "no postback was acknowledged"
    wrong = {item: at for item, at in answers.ok.items() if products.get(at) != item}
    assert wrong == {}


def _exited_in_time_with_every_200_kept(
    exit_s: float | None,
    budget_s: float,
    answers: Answers,
    products: dict[tuple[int, int], str],
    case: str,
) -> None:
    """The receiver exited within its budget (and the slack), every 200 is on the topic; the
    figures printed (`-s`), with the 503s whose record landed all the same (a request the
    give-up cancelled on the wire)."""
    assert exit_s is not None
    assert exit_s < budget_s + PROCESS_SLACK_S
    _every_200_on_the_topic(answers, products)
    landed = answers.refused & set(products.values())
    print(
        f"{case}: {len(answers.ok)} 200s, {len(answers.refused)} 503s,"
        f" {len(landed)} of them on the topic; exit {exit_s:.1f}s"
    )


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_sigterm_under_load_with_the_broker_up_answers_every_postback_200(
    broker: LocalBroker, tmp_path: Path, workers: int
) -> None:
    budget_s = 6.0
    exit_s, answers, products = await _sigterm_under_load(
        broker, tmp_path / "receiver.log", budget_s, workers, None
    )
    _exited_in_time_with_every_200_kept(exit_s, budget_s, answers, products, f"{workers} workers")
    assert set(answers.statuses) == {200}, answers.statuses


@pytest.mark.parametrize(
    ("workers", "let_go_s"), [(1, 2.9), (1, 3.0), (1, 3.1), (2, 3.0), (2, 30.0)]
)
async def test_a_broker_let_go_on_around_the_give_up_never_makes_a_200_not_on_the_topic(
    broker: LocalBroker, tmp_path: Path, workers: int, let_go_s: float
) -> None:
    """(30 s: let go on only once the receiver exited, within its budget)"""
    budget_s = 4.0  # the give-up 3 s after the SIGTERM
    exit_s, answers, products = await _sigterm_under_load(
        broker, tmp_path / "receiver.log", budget_s, workers, let_go_s
    )
    _exited_in_time_with_every_200_kept(
        exit_s, budget_s, answers, products, f"{workers} workers, let go at {let_go_s}s"
    )
    assert set(answers.statuses) <= {200, 503}, answers.statuses


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_sigterm_with_the_broker_killed_exits_in_time_and_every_200_is_on_the_topic(
    broker: LocalBroker, tmp_path: Path, workers: int
) -> None:
    budget_s = 4.0
    exit_s, answers, products = await _sigterm_under_load(
        broker, tmp_path / "receiver.log", budget_s, workers, None, kill=True
    )
    _exited_in_time_with_every_200_kept(
        exit_s, budget_s, answers, products, f"{workers} workers, broker killed"
    )
    assert set(answers.statuses) <= {200, 503}, answers.statuses
