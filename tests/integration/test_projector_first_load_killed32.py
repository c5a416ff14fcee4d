"""A first catch-up in parts whose projector is SIGKILLed half-way keeps each dead letter and
restatement of the batches its parts wrote once: the next start goes on with the parts from
where they wrote (first_load_parts.py), as the live consumer goes on from its store after a
crash; only a batch the kill caught between its keeping and its write may be kept twice. And
parts two of which hold one key (a topic whose partitions were added) are merged as far as they
can be (rebuild_split_merge.merged_parts): the live consumer reads only the others' partitions
again. Both give one process's views."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.events import Availability
from catalog_contract.headers import RESTATES, SOURCE_POSITION
from catalog_contract.keys import product_key
from catalog_contract.writing import product_records
from catalog_stream.ports import free_port
from projector.generations import SqliteGenerations
from tests.factories import change
from tests.integration import test_rebuild_killed as killed
from tests.integration.test_projector_first_load_attack import (
    GARBAGE,
    Placed,
    _business,
    _counters,
    _ends,
    _item,
    _produce,
    _settled,
)
from tests.integration.test_projector_first_load_killed import SETTINGS, _catching_up
from tests.projector_harness import projector_in_process
from tests.support import (
    Topics,
    alive,
    eventually,
    make_topics,
    projector_settings,
    read_topic,
    signal_all,
    split_workers_paused,
)

Keyed = tuple[bytes, bytes | None, list[tuple[str, bytes]]]  # key, value, headers: partition by key


def _history(steps: int) -> list[Keyed]:
    """60 items, each written alternately a price and a stock only (so every batch restates
    it: its record does not say its whole state), and an unreadable record every 37 steps."""
    records: list[Keyed] = []
    for n in range(steps):
        item = f"i-{n % 60}"
        if (n // 60) % 2:
            event = change(item, price=f"{n % 90 + 1}.00", minute=n)
        else:
            stock = (Availability.IN_STOCK, Availability.OUT_OF_STOCK)[n // 120 % 2]
            event = change(item, stock=stock, minute=n)
        written = product_records(event)
        records += [(written.key, v, list(written.headers)) for v in written.values]
        if n % 37 == 0:
            records.append((product_key("42", f"bad-{n}"), GARBAGE, []))
    return records


async def _produce_keyed(bootstrap: str, topic: str, records: list[Keyed]) -> None:
    """By key, as the receiver writes (a key's records and restatements in one partition)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send(topic, value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def _a_fifth_in(client: httpx.AsyncClient, workers: list[int], of: int) -> None:
    """Let the paused workers load in short steps until a fifth of the records is in, fewer
    than half (the parts then have dead letters and restatements behind them, and more ahead)."""
    deadline = time.monotonic() + 120
    while True:
        signal_all(workers, signal.SIGCONT)
        await asyncio.sleep(0.02)
        signal_all(workers, signal.SIGSTOP)
        await asyncio.sleep(0.3)  # the projector reads the parts' progress every 0.2 s
        lag = await _catching_up(client)
        if lag <= of - of // 5:
            assert lag > of // 2, lag
            return
        assert time.monotonic() < deadline, lag


def _parts_reached(directory: Path) -> dict[int, int]:
    """Where the parts a kill left had written: partition -> the position of their views."""
    reached: dict[int, int] = {}
    for part in directory.glob("views.*.db"):
        with sqlite3.connect(part) as db:
            for p, offset in db.execute('SELECT "partition", next_offset FROM offsets'):
                reached[int(p)] = int(offset)
    return reached


async def _positions(client: httpx.AsyncClient) -> dict[int, int]:
    try:
        said = (await client.get("/v1/catalogs")).headers.get("X-View-Positions", "")
    except httpx.TransportError:
        return {}
    return {int(p): int(o) for p, o in (x.split(":") for x in said.split(",") if x)}


async def _settled_http(client: httpx.AsyncClient, bootstrap: str, topic: str) -> bool:
    ends = await _ends(bootstrap, topic, 3)
    await asyncio.sleep(0.3)
    return await _positions(client) == ends == await _ends(bootstrap, topic, 3)


def _is_below(position: str, reached: dict[int, int]) -> bool:
    partition, offset = map(int, position.split(":"))
    return offset < reached.get(partition, 0)


IN_FLIGHT = 40  # offsets of a partition a kill may catch kept and not written (batches of 10)


def _twice(found: Counter[tuple[Any, str]], kills: list[dict[int, int]]) -> list[Any]:
    """The positions kept more than once below where the parts had written at the last kill,
    but for those a kill may have caught between their keeping and their write (just at or past
    where the parts had written then). (Past the parts' positions a position is restated again
    in one process too: a restatement of an earlier state read after the item's later records
    is superseded, and the item restated again, at its last position.)"""
    twice = []
    for (key, position), count in sorted(found.items()):
        partition, offset = map(int, position.split(":"))
        caught = any(0 <= offset - k.get(partition, 0) < IN_FLIGHT for k in kills)
        if count > 1 and offset < kills[-1].get(partition, 0) and not caught:
            twice.append((key, position, count))
    return twice


def _kept_once(
    bootstrap_records: list[Any], letters: list[Any], kills: list[dict[int, int]]
) -> None:
    """Each unreadable record dead-lettered, and none of them, nor any restatement, twice but
    where a kill caught it; and the kills caught some of both behind them."""
    unreadable = {f"{r.partition}:{r.offset}" for r in bootstrap_records if r.value == GARBAGE}
    kept = Counter(("", dict(r.headers)[SOURCE_POSITION].decode()) for r in letters)
    assert {position for _, position in kept} == unreadable  # each kept
    restated = Counter(
        (r.key, dict(r.headers)[RESTATES].decode())
        for r in bootstrap_records
        if RESTATES in dict(r.headers)
    )
    # (else this test caught nothing: kept by the killed load, below where its parts wrote)
    assert any(_is_below(u, kills[0]) for u in unreadable)
    assert any(_is_below(position, kills[0]) for _, position in restated)
    assert not _twice(kept, kills), (
        f"dead letters written twice below where the killed load's parts had written "
        f"({kills}): {_twice(kept, kills)[:5]} of {len(kept)}"
    )
    assert not _twice(restated, kills), (
        f"restatements written twice below where the killed load's parts had written "
        f"({kills}): {len(_twice(restated, kills))}, e.g. {_twice(restated, kills)[:3]}"
    )


def _views_of(db: Path) -> dict[str, Any]:
    store = SqliteGenerations(db).open_active()
    try:
        return _business(store)
    finally:
        store.close()


async def _one_process(bootstrap: str, records: list[Keyed], db: Path) -> dict[str, Any]:
    """One process catching up alone with the same records at the same offsets."""
    topics = await make_topics(bootstrap, 3)
    await _produce_keyed(bootstrap, topics.product, records)
    settings = projector_settings(bootstrap, topics, db, rebuild_workers=1)
    async with projector_in_process(settings) as (runtime, _):
        await eventually(
            lambda: _settled(bootstrap, runtime.store, topics.product, 3), timeout_s=180
        )
        return _business(runtime.store)


@pytest.mark.parametrize("sent", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
async def test_a_projector_killed_mid_load_keeps_each_dead_letter_and_restatement_once(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, sent: signal.Signals
) -> None:
    """Fails on the old code: the next start deleted the parts and loaded from nothing, so
    every record the killed load had dead-lettered or restated below where its parts had
    written was dead-lettered or restated a second time. Stopped (SIGTERM, as a deploy does)
    rather than killed, the load keeps its parts too: before, the stop deleted them (the
    rebuild's clean-up), with the same cost at the next start."""
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    records = _history(4500)
    await _produce_keyed(kafka_bootstrap, topics.product, records)
    url = f"http://127.0.0.1:{port}"
    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            workers = await split_workers_paused(process.pid)
            await _a_fifth_in(client, workers, len(records))
            process.send_signal(sent)
            await asyncio.to_thread(process.wait, 60)
            signal_all(workers, signal.SIGCONT)
    if sent == signal.SIGTERM:  # (a stop, not a crash)
        assert "Application shutdown complete" in log.read_text()
    await eventually(lambda: not any(map(alive, workers)), timeout_s=10)
    reached = _parts_reached(tmp_path)
    assert sum(reached.values()) >= len(records) // 5, reached

    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(
                lambda: _settled_http(client, kafka_bootstrap, topics.product), timeout_s=240
            )
    assert "first catch-up loaded in parts" in log.read_text()
    written = await read_topic(kafka_bootstrap, topics.product, timeout_s=30)
    letters = await read_topic(kafka_bootstrap, topics.projector_dead_letter, timeout_s=30)
    _kept_once(written, letters, [reached])
    assert _views_of(db) == await _one_process(kafka_bootstrap, records, tmp_path / "one.db")


async def _more_in(client: httpx.AsyncClient, workers: list[int], records: int) -> None:
    """Let the paused workers load in short steps until `records` more are in."""
    await asyncio.sleep(0.5)  # the parts' first report (the projector reads them every 0.2 s)
    first = await _catching_up(client)
    deadline = time.monotonic() + 120
    while await _catching_up(client) > first - records:
        assert time.monotonic() < deadline, first
        signal_all(workers, signal.SIGCONT)
        await asyncio.sleep(0.02)
        signal_all(workers, signal.SIGSTOP)
        await asyncio.sleep(0.3)


async def test_a_projector_killed_twice_mid_load_keeps_each_dead_letter_and_restatement_once(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    """Killed during the load, then again while the next start goes on with its parts: what
    either had written is kept once, and the third start gives one process's views."""
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    records = _history(4500)
    await _produce_keyed(kafka_bootstrap, topics.product, records)
    url = f"http://127.0.0.1:{port}"
    kills = []
    for _ in range(2):
        with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS) as process:
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                workers = await split_workers_paused(process.pid)
                await _more_in(client, workers, len(records) // 5)
                process.send_signal(signal.SIGKILL)
                process.wait()
                signal_all(workers, signal.SIGCONT)
        await eventually(lambda: not any(map(alive, workers)), timeout_s=10)  # noqa: B023
        kills.append(_parts_reached(tmp_path))
    assert all(kills[1].get(p, 0) >= o for p, o in kills[0].items()), kills  # went on

    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(
                lambda: _settled_http(client, kafka_bootstrap, topics.product), timeout_s=240
            )
    written = await read_topic(kafka_bootstrap, topics.product, timeout_s=30)
    letters = await read_topic(kafka_bootstrap, topics.projector_dead_letter, timeout_s=30)
    _kept_once(written, letters, kills)
    assert _views_of(db) == await _one_process(kafka_bootstrap, records, tmp_path / "one.db")


def _moved(small: int, large: int) -> list[Placed]:
    """Two partitions, an unreadable record in each, and one key in both (a postback written
    to partition 0, and its retry to partition 1 after the topic got partitions and the key's
    partition changed: in either order one applies it, the other finds a duplicate); partition
    1 holds the most records."""
    records: list[Placed] = _item("moved", 2, 0)
    for n in range(large):
        records += _item(f"p1-{n}", n % 500, 1)
        if n < small:
            records += _item(f"p0-{n}", n % 500, 0)
    records.append((0, product_key("42", "bad-0"), GARBAGE, []))
    records.append((1, product_key("42", "bad-1"), GARBAGE, []))
    return [*records, *_item("moved", 2, 1)]


async def _fold(bootstrap: str, records: list[Placed], db: Path, workers: int) -> dict[str, Any]:
    """The views, dead letters and dead letters counted of a projector catching up with
    `records`; `at_merge` (split only): its views' positions as its first catch-up in parts
    ended, and `ends`: the topic's then."""
    topics = await make_topics(bootstrap, 2)
    await _produce(bootstrap, topics.product, records)
    ends = await _ends(bootstrap, topics.product, 2)
    settings = projector_settings(
        bootstrap, topics, db, rebuild_workers=workers, first_load_min_records=1
    )
    found: dict[str, Any] = {}
    async with projector_in_process(settings) as (runtime, client):
        if workers > 1:
            await eventually(lambda: runtime.first_load is not None, timeout_s=30, every_s=0.001)
            deadline = time.monotonic() + 120
            while runtime.first_load is not None:  # (the live consumer starts right after)
                assert time.monotonic() < deadline, "the first catch-up never ended"
                await asyncio.sleep(0.001)
            found["at_merge"], found["ends"] = runtime.store.positions(topics.product), ends
        await eventually(
            lambda: _settled(bootstrap, runtime.store, topics.product, 2), timeout_s=120
        )
        found["views"] = _business(runtime.store)
        counters = _counters((await client.get("/metrics")).text)
        found["dead_lettered"] = {k: v for k, v in counters.items() if "dead_lettered" in k}
    found["dead_letters"] = len(await read_topic(bootstrap, topics.projector_dead_letter, 5))
    return found


async def test_parts_sharing_a_key_merge_the_larger_and_read_only_the_other_again(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Fails on the old code: a key in both parts merged nothing, and the live consumer read
    the whole topic again (views empty as the catch-up in parts ended)."""
    records = _moved(600, 1500)
    split = await _fold(kafka_bootstrap, records, tmp_path / "split.db", 2)
    one = await _fold(kafka_bootstrap, records, tmp_path / "one.db", 1)
    assert split.pop("at_merge") == {1: split.pop("ends")[1]}, (
        "the part of partition 1 (the most records) was not merged: the topic is read again"
    )
    assert split == one
    assert one["dead_letters"] == 2
