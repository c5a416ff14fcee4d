"""`catalog-stream run` (what `make run` starts): a postback goes in and comes out of the read
API, and a SIGTERM stops the broker and both services, as Ctrl-C does; a second signal does not
cut the stop short, and even a SIGKILLed `run` leaves no Kafka JVM behind."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from catalog_stream.local import DEV_SECRET
from catalog_stream.ports import free_port
from tests.support import eventually

pytestmark = pytest.mark.broker


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _story(process: subprocess.Popen[bytes], log: Path) -> str:
    """What a failed wait shows: whether `run` still lives, and the end of what it printed."""
    tail = log.read_bytes()[-6000:].decode(errors="replace") if log.exists() else "(no log)"
    return f"run: exit code {process.poll()}; the end of its output:\n{tail}"


async def _until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait for `url` to answer 200 while `run` lives; a dead or stuck `run` fails with its log."""
    async with httpx.AsyncClient(timeout=10) as client:

        async def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(_story(process, log))
            try:
                return (await client.get(url)).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await eventually(ready, timeout_s=120, every_s=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_story(process, log)}") from None


@pytest.fixture
def system(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int]]]:
    # Every port as the kernel hands out free ones: not `run`'s controller default (kafka + 1),
    # which has the parity Linux gives outgoing connections, so one of the many connections
    # made before could hold it, and Kafka then failed to start (stop 21's CI, we believe).
    names = ("kafka", "controller", "receiver", "projector")
    ports = {name: free_port() for name in names}
    command = [sys.executable, "-m", "catalog_stream.cli", "run", "--data-dir", str(tmp_path)]
    command += ["--kafka-port", str(ports["kafka"]), "--partitions", "1"]
    command += ["--controller-port", str(ports["controller"])]
    command += ["--receiver-port", str(ports["receiver"])]
    command += ["--projector-port", str(ports["projector"])]
    env = {**os.environ, "CATALOG_LOG_LEVEL": "WARNING"}
    env.pop("CATALOG_RECEIVER_SECRETS", None)  # the development secret, as `make run` has it
    with (tmp_path / "run.log").open("ab") as log:
        # A process group of its own, as a terminal or a supervisor gives it.
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        yield process, ports
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_run_serves_a_postback_and_sigterm_stops_everything(
    system: tuple[subprocess.Popen[bytes], dict[str, int]], tmp_path: Path
) -> None:
    process, ports = system
    receiver = f"http://127.0.0.1:{ports['receiver']}"
    projector = f"http://127.0.0.1:{ports['projector']}"
    await _until_ready(process, receiver + "/readyz", tmp_path / "run.log")
    async with httpx.AsyncClient(timeout=10) as client:

        async def up(url: str) -> bool:
            try:
                return (await client.get(url)).status_code == 200
            except httpx.TransportError:
                return False

        answer = await client.post(
            receiver + "/v1/postbacks/product-changes",
            json={"CatalogId": "42", "CatalogItemId": "sku-1", "CurrentPrice": "12.99"},
            headers={"X-Postback-Token": DEV_SECRET},
        )
        assert answer.status_code == 200, answer.text
        item = projector + "/v1/catalogs/42/items/sku-1"
        await eventually(lambda: up(item), timeout_s=30)
        assert (await client.get(item)).json()["current_price"] == "12.99"

    process.send_signal(signal.SIGTERM)
    await asyncio.sleep(1)  # stopping the services and the broker now
    process.send_signal(signal.SIGTERM)  # an impatient second signal
    assert process.wait(90) == 0
    assert not [name for name, port in ports.items() if _listening(port)]


def _processes_under(folder: Path) -> list[int]:
    """Processes whose command line names `folder` (the JVM's config, the services' store)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue  # exited meanwhile
            if str(folder).encode() in cmdline and b"kafka.Kafka" in cmdline:
                found.append(int(entry.name))
    return found


async def test_no_kafka_jvm_outlives_a_run_killed_while_stopping(
    system: tuple[subprocess.Popen[bytes], dict[str, int]], tmp_path: Path
) -> None:
    process, ports = system
    receiver = f"http://127.0.0.1:{ports['receiver']}"
    await _until_ready(process, receiver + "/readyz", tmp_path / "run.log")
    jvms = _processes_under(tmp_path)
    assert len(jvms) == 1
    os.killpg(process.pid, signal.SIGTERM)  # what a terminal, `timeout` or a supervisor does
    process.kill()  # ... and then loses patience, before `run` could stop the broker itself
    process.wait()
    await eventually(lambda: not _processes_under(tmp_path), timeout_s=90, every_s=0.5)
    await eventually(
        lambda: not [name for name, port in ports.items() if _listening(port)], timeout_s=60
    )
