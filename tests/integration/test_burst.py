"""A burst of concurrent postbacks from a load tool (wrk) against the real server process:
every 200 is exactly one record on the topic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from catalog_stream.ports import free_port
from tests.support import AUTH, Topics, eventually, read_topic

pytestmark = pytest.mark.broker
BURST = 5000
CONCURRENCY = 200
SCRIPT = Path(__file__).with_name("burst.lua")


@pytest.fixture
def receiver_process(kafka_bootstrap: str, topics: Topics) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CATALOG_RECEIVER_PORT": str(port),
        "CATALOG_RECEIVER_TOPIC": topics.product,
        "CATALOG_RECEIVER_DEAD_LETTER_TOPIC": topics.dead_letter,
        "CATALOG_RECEIVER_SECRETS": f'["{AUTH["X-Postback-Token"]}"]',
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "catalog_stream.cli", "receiver"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()  # graceful: flushes what is in flight
        # uvicorn re-raises the signal once it has shut down cleanly
        assert process.wait(30) in (0, -signal.SIGTERM)


def start_wrk(url: str, answers: Path) -> subprocess.Popen[bytes]:
    """wrk posts BURST distinct postbacks over CONCURRENCY connections (burst.lua)."""
    command = ["wrk", "-t1", f"-c{CONCURRENCY}", "-d120s", "--timeout", "60s", "-s", str(SCRIPT)]
    env = {
        **os.environ,
        "BURST": str(BURST),
        "SECRET": AUTH["X-Postback-Token"],
        "OUT": str(answers),
    }
    return subprocess.Popen([*command, url], env=env, stdout=subprocess.DEVNULL)


async def test_every_200_of_a_burst_is_exactly_one_record(
    receiver_process: str, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=receiver_process) as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, timeout_s=30)
    answers_file = tmp_path / "answers.txt"
    load = start_wrk(receiver_process, answers_file)
    try:  # wrk runs for a time, not a count: stop it once every postback was answered
        await eventually(lambda: _answers(answers_file) >= BURST, timeout_s=120, every_s=0.2)
    finally:
        load.terminate()
        load.wait()

    answers = [line.split(" ", 1) for line in answers_file.read_text().splitlines()]
    assert len(answers) == BURST
    assert {status for status, _ in answers} <= {"200", "503"}
    accepted = [json.loads(body) for status, body in answers if status == "200"]
    assert len(accepted) >= BURST * 0.99  # a 503 would be fine (the platform retries), a loss not
    records = await read_topic(kafka_bootstrap, topics.product, timeout_s=60)
    on_topic = {(r.partition, r.offset) for r in records}
    acknowledged = {(a["partition"], a["offset"]) for a in accepted}
    assert len(acknowledged) == len(accepted)  # no two answers name the same record
    assert on_topic == acknowledged  # and every record is one that was answered 200


def _answers(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0
