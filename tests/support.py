"""Helpers for tests that go through the real broker: running the services in-process, and
reading what is on a topic."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import SecretStr

from catalog_contract import topics as contract_topics
from catalog_contract.events import ProductChange
from catalog_contract.positions import parse_position
from catalog_contract.writing import product_records
from catalog_stream.ports import free_port
from catalog_stream.topic_admin import ensure_all
from projector.app import create_app as create_projector
from projector.generations import Generations
from projector.generations_postgres import PostgresGenerations
from projector.main import server_config
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from receiver.app import create_app as create_receiver
from receiver.publisher import Publisher
from receiver.settings import ReceiverSettings
from tests.factories import change
from tests.postgres import LocalPostgres, execute
from tests.projector_harness import projector_in_process

SECRET = "test-secret-0123456789"
AUTH = {"X-Postback-Token": SECRET}
ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass(frozen=True)
class Topics:
    product: str
    dead_letter: str
    projector_dead_letter: str = ""  # make_topics creates one; else only named (never written)


async def make_topics(bootstrap: str, partitions: int = 3) -> Topics:
    """Topics of their own for one test: products (`partitions`), and both dead-letter topics."""
    suffix = uuid.uuid4().hex[:10]
    names = Topics(
        product=f"test.products.{suffix}",
        dead_letter=f"test.dead-letter.{suffix}",
        projector_dead_letter=f"test.projector-dead-letter.{suffix}",
    )
    await ensure_all(
        bootstrap,
        [
            contract_topics.product_topic(names.product, partitions=partitions),
            contract_topics.dead_letter_topic(names.dead_letter),
            contract_topics.projector_dead_letter_topic(names.projector_dead_letter),
        ],
    )
    return names


@dataclass(frozen=True)
class SharedPostgres:
    """One test's PostgreSQL database for projector instances sharing their generations, the
    topics they read, their settings, and how many records were written before they start."""

    topics: Topics
    url: str
    settings: ProjectorSettings
    preloaded: int

    def generations(self) -> PostgresGenerations:
        """One more instance's view of the shared generations."""
        return PostgresGenerations(self.url)

    def instances(
        self, generations: Sequence[Generations] | None = None
    ) -> AbstractAsyncContextManager[list[tuple[Runtime, httpx.AsyncClient]]]:
        """`instances_sharing` on this database, once the views hold what was preloaded: one
        instance unless `generations` says more."""
        return instances_sharing(self.settings, generations or [self.generations()], self.preloaded)

    async def wave(self, minute: int, items: int) -> int:
        """`price_wave(minute, items)` written to the product topic: the records written."""
        changes = price_wave(minute, items)
        return await produce_events(self.settings.bootstrap_servers, self.topics.product, changes)


# (items, partitions=1, waves=1): what the fixture `share_postgres` gives a test (conftest.py)
SharePostgres = Callable[..., Awaitable[SharedPostgres]]


async def shared_postgres(
    bootstrap: str, postgres: LocalPostgres, items: int, partitions: int = 1, waves: int = 1
) -> SharedPostgres:
    """Topics and a database of their own, the projector's settings on them, and `waves` price
    waves (minutes 1, 2, ...) of `items` items written to the product topic."""
    topics = await make_topics(bootstrap, partitions=partitions)
    url = postgres.create_database(f"shared_{uuid.uuid4().hex[:12]}")
    settings = projector_settings(bootstrap, topics, Path("unused.db"), store_url=url)
    preload = [c for minute in range(1, waves + 1) for c in price_wave(minute, items)]
    preloaded = await produce_events(bootstrap, topics.product, preload)
    return SharedPostgres(topics, url, settings, preloaded)


def receiver_settings(bootstrap: str, topics: Topics, **overrides: Any) -> ReceiverSettings:
    values: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "topic": topics.product,
        "dead_letter_topic": topics.dead_letter,
        "secrets": [SecretStr(SECRET)],
        "produce_timeout_s": 5.0,
        **overrides,
    }
    return ReceiverSettings(**values)


def receiver_env(bootstrap: str, topics: Topics, port: int, **variables: str) -> dict[str, str]:
    """The environment of `catalog-stream receiver` as a process of its own (this process's, the
    broker, the test's topics and secret, `port`), with `variables` (full names) added."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOG_RECEIVER_TOPIC": topics.product,
        "CATALOG_RECEIVER_DEAD_LETTER_TOPIC": topics.dead_letter,
        "CATALOG_RECEIVER_SECRETS": f'["{SECRET}"]',
        "CATALOG_RECEIVER_PORT": str(port),
        **variables,
    }


# A receiver process's start and exit on a loaded 2-core machine, beyond its shutdown budget.
PROCESS_SLACK_S = 4.0


@dataclass(frozen=True)
class ReceiverProcess:
    process: subprocess.Popen[bytes]
    topics: Topics
    url: str
    port: int


@asynccontextmanager
async def receiver_process(
    bootstrap: str, log: Path, **variables: str
) -> AsyncIterator[ReceiverProcess]:
    """Topics of its own (make_topics) and `catalog-stream receiver` on them as a process of its
    own on a free port (receiver_env, CATALOG_LOG_LEVEL=INFO, `variables` added; its output
    added to the file `log`), once it serves /readyz 200; killed at the end if still running."""
    topics = await make_topics(bootstrap)
    port = free_port()
    env = receiver_env(bootstrap, topics, port, CATALOG_LOG_LEVEL="INFO", **variables)
    process = _start_receiver(env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: serves_ready(url), timeout_s=60)
        yield ReceiverProcess(process, topics, url, port)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _start_receiver(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "catalog_stream.cli", "receiver"]
    with log.open("ab") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=output)


async def exited(process: subprocess.Popen[bytes], limit_s: float) -> float | None:
    """Seconds until `process` exited; None if it still runs `limit_s` from now."""
    started = time.monotonic()
    while process.poll() is None:
        if time.monotonic() - started > limit_s:
            return None
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@asynccontextmanager
async def receiver_on_new_topics(
    bootstrap: str, **overrides: Any
) -> AsyncIterator[tuple[Topics, httpx.AsyncClient]]:
    """Topics of its own (make_topics) and the receiver in-process on them (running_receiver,
    receiver_settings with `overrides`), ready: the topics and its client."""
    topics = await make_topics(bootstrap)
    async with running_receiver(receiver_settings(bootstrap, topics, **overrides)) as client:
        yield topics, client


async def connected_publisher(settings: ReceiverSettings) -> Publisher:
    """The receiver's publisher, started and connected to the broker (the caller stops it)."""
    publisher = Publisher(settings)
    await publisher.start()
    await eventually(lambda: publisher.connected)
    return publisher


def projector_settings(
    bootstrap: str, topics: Topics, db: Path, **overrides: Any
) -> ProjectorSettings:
    values: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "topic": topics.product,
        "group_id": f"test-projector-{uuid.uuid4().hex[:8]}",
        "store_url": f"sqlite:///{db}",
        "dead_letter_topic": topics.projector_dead_letter or f"{topics.dead_letter}.projector",
        "admin_token": SecretStr(ADMIN_TOKEN),
        **overrides,
    }
    return ProjectorSettings(**values)


async def eventually(check: Callable[[], Any], timeout_s: float = 20, every_s: float = 0.1) -> Any:
    """Await `check()` until it returns something truthy, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s}s: {check}")
        await asyncio.sleep(every_s)


@asynccontextmanager
async def running_receiver(
    settings: ReceiverSettings, wait_ready: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_receiver(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            if wait_ready:
                await eventually(lambda: _is_ready(client))
            yield client


@asynccontextmanager
async def running_projector(
    settings: ProjectorSettings, views: Generations | ViewStore | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The projector app in-process. `views` may be a store (served as the only generation)."""
    generations = views if views is None or isinstance(views, Generations) else Only(views)
    async with projector_in_process(settings, generations) as (_, client):
        yield client


@asynccontextmanager
async def running_services(
    bootstrap: str,
    topics: Topics,
    views: Path,
    receiver: dict[str, Any] | None = None,
    projector: dict[str, Any] | None = None,
    **kafka: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The receiver and the projector (views in the SQLite file `views`) in-process on one
    broker's topics: `kafka` (connection settings) for both, `receiver` and `projector` for one."""
    async with (
        running_receiver(
            receiver_settings(bootstrap, topics, **kafka, **(receiver or {}))
        ) as receiver_client,
        running_projector(
            projector_settings(bootstrap, topics, views, **kafka, **(projector or {}))
        ) as projector_client,
    ):
        yield receiver_client, projector_client


@asynccontextmanager
async def serving_projector(
    settings: ProjectorSettings, generations: Generations
) -> AsyncIterator[str]:
    """The projector behind a real HTTP server (streams and browsers need one), configured as
    `catalog-stream projector` configures its own (its protocol's deadlines): its base URL."""
    port = free_port()
    app = create_projector(settings, generations)
    server = uvicorn.Server(server_config(settings.model_copy(update={"port": port}), app))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout_s=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def read_stream_ids(base: str, ids: list[int], ended: asyncio.Event) -> None:
    """Read the change stream (SSE) at `base`, appending each event's id to `ids`; `ended` is
    set once it is cut or ended."""
    try:
        async with (
            httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(5, read=60)) as client,
            client.stream("GET", "/v1/changes/stream") as answer,
        ):
            assert answer.status_code == 200
            async for line in answer.aiter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
    finally:
        ended.set()  # cut, or ended by the server: no more changes come on it


class Only(Generations):
    """One given store as the only generation (tests that look at that store directly)."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def open_active(self) -> ViewStore:
        return self.store

    def open_new(self) -> ViewStore:
        raise NotImplementedError("this test serves one fixed store")

    def activate(self, store: ViewStore) -> None:
        raise NotImplementedError("this test serves one fixed store")

    def discard(self, store: ViewStore) -> None:
        raise NotImplementedError("this test serves one fixed store")


def price_wave(minute: int, items: int) -> list[ProductChange]:
    """A new price for each of items i0.. of catalog c1 (`minute.nn`): a change each."""
    return [change(f"i{n}", "c1", minute=minute, price=f"{minute}.{n:02d}") for n in range(items)]


async def shows_wave(
    projector: httpx.AsyncClient, minute: int, items: int, timeout_s: float = 60
) -> None:
    """Until the projector's API shows every item of `price_wave(minute, items)` at its price
    (an item not there yet, 404, is waited for too)."""
    for n in range(items):

        async def priced(n: int = n) -> bool:
            answer = await projector.get(f"/v1/catalogs/c1/items/i{n}")
            if answer.status_code != 200:
                return False
            return Decimal(answer.json()["current_price"]) == Decimal(f"{minute}.{n:02d}")

        await eventually(priced, timeout_s=timeout_s)


@asynccontextmanager
async def instances_sharing(
    settings: ProjectorSettings, generations: Sequence[Generations], holding: int
) -> AsyncIterator[list[tuple[Runtime, httpx.AsyncClient]]]:
    """Projector instances in-process on one store (`generations` each, e.g. one PostgreSQL
    database) and one consumer group: each has partitions, and the views hold `holding`
    records. Their runtimes and clients."""
    async with AsyncExitStack() as stack:
        instances = [
            await stack.enter_async_context(projector_in_process(settings, g)) for g in generations
        ]
        runtimes = [runtime for runtime, _ in instances]
        await eventually(lambda: all(r.projector.assigned for r in runtimes), timeout_s=60)

        def holds() -> bool:
            return sum(runtimes[0].store.positions(settings.topic).values()) == holding

        await eventually(holds)
        yield instances


@asynccontextmanager
async def projector_on_postgres(
    postgres: LocalPostgres, database: str, **database_settings: str
) -> AsyncIterator[tuple[str, Runtime, httpx.AsyncClient]]:
    """The projector in-process with no live consumer (no broker) on a new database `database`
    of `postgres` (its generations, PostgresGenerations): the database's URL, the projector's
    runtime and a client. `database_settings` (lock_timeout="300ms"...) are the database's
    own before the projector connects: every session it opens has them."""
    url = postgres.create_database(database)
    for name, value in database_settings.items():
        execute(url, f"ALTER DATABASE \"{database}\" SET {name} = '{value}'")
    generations = PostgresGenerations(url)
    async with projector_in_process(ProjectorSettings(), generations, False) as (runtime, client):
        yield url, runtime, client


async def not_ready_for_the_pointer(projector: httpx.AsyncClient) -> bool:
    """The projector's /readyz answers 503 and names the generation pointer as the reason."""
    ready = await projector.get("/readyz")
    return ready.status_code == 503 and "pointer" in str(ready.json().get("error"))


async def pointer_not_the_reason(projector: httpx.AsyncClient) -> bool:
    """The projector's /readyz names the generation pointer no more (ready, or for another
    reason): an operator mended it."""
    ready = await projector.get("/readyz")
    return "pointer" not in str(ready.json().get("error"))


def generation_schemas(url: str) -> set[str]:
    """The generation schemas (`views`, `views_<n>`) in a PostgreSQL database."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname ~ '^views(_[0-9]+)?$'"
        ).fetchall()
    return {str(r[0]) for r in rows}


def active_generation(url: str) -> str:
    """The schema the pointer row names in a PostgreSQL database."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT schema_name FROM public.catalog_stream_generation WHERE id = 1"
        ).fetchone()
    assert row is not None
    return str(row[0])


def records_applied(response: httpx.Response) -> int:
    """How many records the projector's views hold (offsets start at 0), from the header
    X-View-Positions (`partition:next_offset,...`) on every read API answer."""
    positions = response.headers["X-View-Positions"]
    applied = 0
    for text in filter(None, positions.split(",")):
        found = parse_position(text)
        assert found is not None, positions
        applied += found[1]
    return applied


async def caught_up(
    projector: httpx.AsyncClient, records: int, timeout_s: float = 20, path: str = "/v1/catalogs"
) -> None:
    """Until the projector's views hold `records` records, as the answer at `path` says."""

    async def holds() -> bool:
        return records_applied(await projector.get(path)) == records

    await eventually(holds, timeout_s=timeout_s)


async def rebuilt(
    projector: httpx.AsyncClient,
    timeout_s: float,
    every_s: float = 0.1,
    while_running: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Start a rebuild (the admin API answers 202) and wait until it is done: its last status.
    `while_running` is awaited after each look that finds it still running."""
    assert (await projector.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202

    async def done() -> dict[str, Any] | None:
        status: dict[str, Any] = (await projector.get("/v1/admin/rebuild", headers=ADMIN)).json()
        assert status["state"] in ("running", "done"), status
        if status["state"] == "done":
            return status
        if while_running is not None:
            await while_running()
        return None

    finished: dict[str, Any] = await eventually(done, timeout_s=timeout_s, every_s=every_s)
    return finished


async def _is_ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def serves_ready(url: str) -> bool:
    """The service at `url` answers /readyz 200 (not yet listening: False)."""
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(url + "/readyz", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 15) -> list[Any]:
    """Every committed record on `topic` from the beginning up to its current end, in partition
    and then offset order. Sorted: which partition a fetch answers first is not fixed, so the
    order of arrival would put records of different partitions in a different order from run to
    run. Committed only, as every consumer of ours reads (KafkaConnection.consumer_options): a
    record of an aborted transaction is on no view and in no replay."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())
        ]
        if not partitions:
            await consumer._client.force_metadata_update()  # first look at the topic
            partitions = [
                TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end in {timeout_s}s")
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def read_topic_once_back(bootstrap: str, topic: str) -> list[Any]:
    """read_topic, tried again every 0.5 s (20 times at most) while it fails: a broker just let
    go on (SIGCONT) or started again may not answer for the topic's partitions at once."""
    for _ in range(20):
        with contextlib.suppress(AssertionError):
            return await read_topic(bootstrap, topic)
        await asyncio.sleep(0.5)
    return await read_topic(bootstrap, topic)


async def produce_events(bootstrap: str, topic: str, events: list[ProductChange]) -> int:
    """Write events as the receiver does (a removal is the event, then a tombstone); returns
    the number of records written."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    written = 0
    try:
        for event in events:
            records = product_records(event)
            for value in records.values:
                await producer.send(topic, value, key=records.key, headers=records.headers)
                written += 1
        await producer.flush()
    finally:
        await producer.stop()
    return written


def dump(store: ViewStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table, in an order that does not depend on how partitions interleaved."""
    query = store._query  # a test looks at the tables themselves
    return {
        "items": query("SELECT * FROM items ORDER BY catalog_id, item_id"),
        "catalogs": query("SELECT * FROM catalogs ORDER BY catalog_id"),
        "changes": query(
            'SELECT kind, catalog_id, item_id, old, new, event_id, "partition", "offset" '
            'FROM changes ORDER BY "partition", "offset", kind'
        ),
        "offsets": query('SELECT "partition", next_offset FROM offsets ORDER BY "partition"'),
    }


async def run_cli(
    *args: str, timeout_s: float = 120, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """`catalog-stream ARGS...` as a user runs it (with `env` added): exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "catalog_stream.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def start_cli(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`catalog-stream COMMAND` as a process of its own with the environment `env` (all of it);
    its stderr is added to the file `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "catalog_stream.cli", command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )


def stop(process: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """Ask `process` to stop (SIGTERM), and kill it if it has not within `grace_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


SPLIT_WORKER = "projector.rebuild_split_worker"


def split_workers(parent: int) -> list[int]:
    """The worker processes of a load in parts (a rebuild's or a first catch-up's) that
    `parent` started, alive."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if SPLIT_WORKER.encode() in cmdline and ppid == parent and alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie that nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


async def split_workers_paused(parent: int) -> list[int]:
    """The two workers of a load in parts, SIGSTOPped as soon as both run: the load is then
    caught half-way on any machine (looking for a moment between two polls failed on fast
    ones: CI of c109fe9 and d96aa73 found the rebuild done). The caller continues them."""
    deadline = time.monotonic() + 120
    while len(workers := split_workers(parent)) < 2:
        assert time.monotonic() < deadline, "the load's workers never started"
        await asyncio.sleep(0.005)
    signal_all(workers, signal.SIGSTOP)
    return workers


@asynccontextmanager
async def first_load_paused(
    bootstrap: str, topics: Topics, db: Path, **overrides: Any
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient, list[int]]]:
    """A projector in-process on empty views (`db`) whose first catch-up loads the topic in
    parts (two workers, any length of topic, batches of 10 unless `overrides` say), its two
    workers paused as soon as both run: its runtime, a client and the workers, which are let
    go on (SIGCONT) on the way out, whatever the test did."""
    settings = projector_settings(
        bootstrap, topics, db,
        **{"rebuild_workers": 2, "first_load_min_records": 1, "batch_max_records": 10,
           **overrides},
    )  # fmt: skip
    async with projector_in_process(settings) as (runtime, client):
        workers = await split_workers_paused(os.getpid())
        try:
            yield runtime, client, workers
        finally:
            signal_all(workers, signal.SIGCONT)
