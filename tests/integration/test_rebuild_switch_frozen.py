"""Attack on the PostgreSQL switch: the switching process is stopped (SIGSTOP, a frozen VM, a
network cut) while it holds the pointer row FOR UPDATE. Every instance's live batch reads that
row FOR SHARE, so every instance's views froze with it. Before, for ever: the database kept the
frozen process's transaction open (its connection idle, never closed). Now a switch says every
second that it is alive on the connection that holds the row; silent for longer than the
database's limit, its session ends, the row is free, and the other instances' views move on.
The switch, once resumed, can no longer move the pointer: it fails, the pointer as it was."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest

from projector.generations_held import SWITCH_SILENCE_LIMIT
from tests.postgres import LocalPostgres
from tests.support import SharePostgres, active_generation, shows_wave

pytestmark = pytest.mark.broker
ITEMS = 6
SILENCE_S = int(SWITCH_SILENCE_LIMIT.removesuffix("s"))
# A switch between taking the row and moving the pointer (rebuild_switch.Switch._move_pointer).
SWITCH = """
import sys
from decimal import Decimal
from projector.generations_postgres import PostgresGenerations

generations = PostgresGenerations(sys.argv[1])
generations.open_active().close()  # (the pointer made, as by an instance's start)
fresh = generations.open_new()
fresh.create()  # (before the row is held, as the switch does: a generation never made is refused)
with generations.holding_pointer() as active:
    print("held", active, flush=True)
    sys.stdin.readline()  # (stopped here)
    try:
        generations.activate(fresh)
        print("moved", flush=True)
    except Exception as exc:
        print("refused", type(exc).__name__, flush=True)
"""


def _start(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SWITCH, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


async def test_a_switch_frozen_while_holding_the_pointer_freezes_no_instance_for_ever(
    share_postgres: SharePostgres,
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        old = runtime.store.name
        switch = _start(url)
        assert switch.stdin is not None
        assert switch.stdout is not None
        try:
            held = await asyncio.to_thread(switch.stdout.readline)
            assert held == f"held {old}\n".encode()
            switch.send_signal(signal.SIGSTOP)
            await shared.wave(2, ITEMS)
            await shows_wave(client, 2, ITEMS, timeout_s=90)
            switch.send_signal(signal.SIGCONT)
            switch.stdin.write(b"go on\n")
            switch.stdin.flush()
            answer = await asyncio.to_thread(switch.stdout.readline)
            assert answer.startswith(b"refused"), answer
        finally:
            switch.send_signal(signal.SIGCONT)
            switch.kill()
            switch.communicate()  # (and its pipes closed)
        assert active_generation(url) == old
        assert runtime.store.name == old


async def test_a_switch_killed_while_holding_the_pointer_frees_it(
    share_postgres: SharePostgres,
) -> None:
    """SIGKILL at that step: the kernel closes the connection, the database rolls back at once
    (this held on the code before too), and the pointer stays."""
    shared = await share_postgres(ITEMS)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        old = runtime.store.name
        switch = _start(url)
        assert switch.stdout is not None
        try:
            held = await asyncio.to_thread(switch.stdout.readline)
            assert held == f"held {old}\n".encode()
            await shared.wave(2, ITEMS)
            await asyncio.sleep(2)
            item = (await client.get("/v1/catalogs/c1/items/i0")).json()
            assert Decimal(item["current_price"]) == Decimal("1.00")  # its batch waits for the row
            switch.kill()
            await shows_wave(client, 2, ITEMS)
        finally:
            switch.kill()
            switch.communicate()
        assert active_generation(url) == old


async def test_a_switch_alive_but_slow_under_the_pointer_keeps_it(postgres: LocalPostgres) -> None:
    """The other side of the silence limit: a switch that runs on, but holds the row for longer
    than that limit (a builder's last records, a long feed to copy), still moves the pointer."""
    url = postgres.create_database(f"switch_slow_{uuid.uuid4().hex[:12]}")
    switch = _start(url)
    assert switch.stdin is not None
    assert switch.stdout is not None
    try:
        held = await asyncio.to_thread(switch.stdout.readline)
        assert held.startswith(b"held ")
        await asyncio.sleep(SILENCE_S + 5)
        switch.stdin.write(b"go on\n")
        switch.stdin.flush()
        answer = await asyncio.to_thread(switch.stdout.readline)
        assert answer == b"moved\n"
    finally:
        switch.kill()
        switch.communicate()
    assert active_generation(url) != held.split()[1].decode()
