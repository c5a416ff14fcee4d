"""Attacks on the generation pointer's rule (9bc0d56, fc9c6d7), on a real PostgreSQL and broker:
a healthy system is never declared broken (rebuilds and switches on two instances while
postbacks keep coming), and a pointer restored after being broken loses nothing and applies
nothing twice (the records applied, the change feed: exact), and the instance is ready again."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import threading
from collections import Counter
from decimal import Decimal

import psycopg
import pytest

from projector.generations_postgres import PostgresGenerations
from projector.runtime import Runtime
from tests.postgres import LocalPostgres
from tests.postgres import execute as _execute
from tests.support import (
    ADMIN,
    SharePostgres,
    caught_up,
    eventually,
    generation_schemas,
    read_topic,
    shows_wave,
)

pytestmark = pytest.mark.broker
POINTER = "public.catalog_stream_generation"
ITEMS = 12


def _feed(url: str, schema: str) -> list[tuple[int, int]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            f'SELECT "partition", "offset" FROM "{schema}".changes'  # noqa: S608 - ours
        ).fetchall()
    return [(int(p), int(o)) for p, o in rows]


async def test_rebuilds_on_two_instances_under_postbacks_never_say_the_pointer_broken(
    kafka_bootstrap: str, share_postgres: SharePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    shared = await share_postgres(ITEMS, partitions=3)
    both = [shared.generations(), shared.generations()]
    caplog.set_level(logging.INFO)
    said: list[str] = []
    async with shared.instances(both) as instances:
        stop = asyncio.Event()
        minute = 1

        async def postbacks() -> None:
            nonlocal minute
            while not stop.is_set():
                minute += 1
                await shared.wave(minute, ITEMS)
                await asyncio.sleep(0.1)

        async def probes() -> None:
            while not stop.is_set():
                for _, client in instances:
                    answer = await client.get("/readyz")
                    if answer.status_code != 200 and "pointer" in answer.text:
                        said.append(answer.text)
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(postbacks()), asyncio.create_task(probes())]
        try:
            for round_ in range(5):  # each in turn, then both at once (one may lose the race)
                racing = instances if round_ == 4 else [instances[round_ % 2]]
                answers = [await c.post("/v1/admin/rebuild", headers=ADMIN) for _, c in racing]
                assert answers[0].status_code == 202
                # (the other may refuse: it follows the first one's switch, 409)
                racing = [i for i, a in zip(racing, answers, strict=True) if a.status_code == 202]
                for runtime, _ in racing:

                    def ended(r: Runtime = runtime) -> bool:
                        return r.rebuild_status.state != "running"

                    await eventually(ended, timeout_s=120)
                states = [r.rebuild_status for r, _ in racing]
                assert any(s.state == "done" for s in states), states
                assert all(s.state == "done" or "another instance" in str(s.error) for s in states)

                def followed() -> bool:
                    return len({r.store.name for r, _ in instances}) == 1 and not any(
                        r.moving for r, _ in instances
                    )

                await eventually(followed, timeout_s=60)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        total = shared.preloaded + (minute - 1) * ITEMS
        records = await read_topic(kafka_bootstrap, shared.topics.product)
        ends: dict[int, int] = {}
        for record in records:
            ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
        assert sum(ends.values()) == total, (ends, total)
        for runtime, client in instances:  # (the header says this instance's partitions)

            def at_the_end(r: Runtime = runtime) -> bool:
                return r.store.positions(shared.topics.product) == ends

            await eventually(at_the_end, timeout_s=60)
            await shows_wave(client, minute, ITEMS)
        assert instances[0][0].store.name == instances[1][0].store.name
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert said == []
    assert [m for m in errors if "pointer" in m] == []


BREAKS = {
    "table_dropped": (
        f"DROP TABLE {POINTER}",
        [
            f"CREATE TABLE {POINTER} (id INTEGER PRIMARY KEY, schema_name TEXT NOT NULL)",
            f"INSERT INTO {POINTER} VALUES (1, '{{schema}}')",  # noqa: S608
        ],
    ),
    "row_deleted": (
        f"DELETE FROM {POINTER}",  # noqa: S608
        [f"INSERT INTO {POINTER} VALUES (1, '{{schema}}')"],  # noqa: S608
    ),
    "names_nothing": (
        f"UPDATE {POINTER} SET schema_name = 'views_999'",  # noqa: S608
        [f"UPDATE {POINTER} SET schema_name = '{{schema}}'"],  # noqa: S608
    ),
}


@pytest.mark.parametrize("broken", sorted(BREAKS))
async def test_a_restored_pointer_loses_nothing_and_applies_nothing_twice(
    share_postgres: SharePostgres, broken: str
) -> None:
    shared = await share_postgres(ITEMS, partitions=3)  # (wave 1 written)
    url = shared.url
    async with shared.instances() as [(runtime, client)]:
        written = shared.preloaded
        await caught_up(client, written, timeout_s=60)
        schema = runtime.store.name
        for cycle in range(2):  # broken, mended, broken again, mended
            break_it, mend = BREAKS[broken]
            _execute(url, break_it)
            for minute in (2 + 2 * cycle, 3 + 2 * cycle):
                written += await shared.wave(minute, ITEMS)

            async def says_why() -> bool:
                ready = await client.get("/readyz")
                return ready.status_code == 503 and "pointer" in ready.text

            await eventually(says_why, timeout_s=15)
            await asyncio.sleep(2.5)
            for statement in mend:
                _execute(url, statement.format(schema=schema))
            await caught_up(client, written, timeout_s=60)
            await shows_wave(client, 3 + 2 * cycle, ITEMS)

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout_s=15)
        feed = _feed(url, schema)
        assert [k for k, n in Counter(feed).items() if n > 1] == []
        assert len(feed) == written
        assert runtime.store.name == schema


def _first_start(
    url: str, barrier: threading.Barrier, opened: list[str], failed: list[BaseException]
) -> None:
    """One instance's first start: the active generation, its tables, a heartbeat, a sweep."""
    generations = PostgresGenerations(url)
    barrier.wait()
    try:
        store = generations.open_active()
        store.create()
        generations.heartbeat([store.name])
        generations.discard_abandoned()
        opened.append(store.name)
        store.close()
    except BaseException as exc:  # (said by the test's assertion)
        failed.append(exc)


def test_instances_starting_together_on_an_empty_database_all_open_views(
    postgres: LocalPostgres,
) -> None:
    """Eight first starts at once (each: open_active, then its tables, then a sweep): none sees
    the pointer before `views`, none is refused, and `views` is the only generation."""
    for attempt in range(5):
        url = postgres.create_database(f"pointer_attack_together_{attempt}")
        barrier = threading.Barrier(8)
        opened: list[str] = []
        failed: list[BaseException] = []

        work = (url, barrier, opened, failed)
        threads = [threading.Thread(target=_first_start, args=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failed == []
        assert opened == ["views"] * 8
        assert generation_schemas(url) == {"views"}


_SWITCHER = """
import sys, time
from projector.generations_pointer import point_at
from projector.generations_postgres import PostgresGenerations
generations = PostgresGenerations(sys.argv[1])
fresh = generations.open_new()
fresh.create()
holding = generations.holding_pointer()
holding.__enter__()
point_at(generations._held, fresh.schema)  # the switch's UPDATE, not yet committed
print(fresh.schema, flush=True)
time.sleep(600)
"""


def _switcher(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SWITCHER, url], stdout=subprocess.PIPE, text=True
    )


async def test_a_switch_killed_while_holding_the_pointer_breaks_nothing(
    share_postgres: SharePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """Another instance SIGKILLed mid-switch (the pointer row held FOR UPDATE and moved, not
    committed) while this one's live batches wait for it: they are an outage's (a warning,
    retried), never the pointer's defect; once the killed session is gone they go in, all of
    them once, and the pointer names `views` still."""
    shared = await share_postgres(ITEMS, partitions=3)  # (wave 1 written)
    url = shared.url
    caplog.set_level(logging.INFO)
    said: list[str] = []
    async with shared.instances() as [(runtime, client)]:
        written = shared.preloaded
        await caught_up(client, written, timeout_s=60)
        switcher = _switcher(url)
        try:
            assert switcher.stdout is not None
            fresh = (await asyncio.to_thread(switcher.stdout.readline)).strip()
            assert fresh.startswith("views_"), fresh
            written += await shared.wave(2, ITEMS)
            for _ in range(40):  # the batch waits for the held row
                answer = await client.get("/readyz")
                if "pointer" in answer.text:
                    said.append(answer.text)
                await asyncio.sleep(0.1)
            item = (await client.get("/v1/catalogs/c1/items/i0")).json()
            assert Decimal(item["current_price"]) == Decimal("1.00"), item  # (waited, held)
        finally:
            switcher.send_signal(signal.SIGKILL)
            await asyncio.to_thread(switcher.wait, 10)
            if switcher.stdout is not None:
                switcher.stdout.close()
        await caught_up(client, written, timeout_s=60)
        await shows_wave(client, 2, ITEMS)

        async def ready() -> bool:
            answer = await client.get("/readyz")
            if "pointer" in answer.text:
                said.append(answer.text)
            return answer.status_code == 200

        await eventually(ready, timeout_s=15)
        assert runtime.store.name == "views"
        feed = _feed(url, "views")
        assert [k for k, n in Counter(feed).items() if n > 1] == []
        assert len(feed) == written
    with psycopg.connect(url) as connection:
        row = connection.execute(f"SELECT schema_name FROM {POINTER}").fetchall()  # noqa: S608
    assert row == [("views",)]
    assert said == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert [m for m in errors if "pointer" in m or "generation" in m] == []
