"""The projector without a broker: its app in-process (lifespan run, the runtime and a client),
and its consumer loop on a fresh SQLite store, fed records by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from projector.app import create_app
from projector.consumer import ConsumerLoop
from projector.generations import Generations, SqliteGenerations
from projector.metrics import ProjectorMetrics
from projector.runtime import Runtime
from projector.settings import ProjectorSettings


@asynccontextmanager
async def projector_in_process(
    settings: ProjectorSettings,
    generations: Generations | None = None,
    run_consumer: bool = True,
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The projector app in-process, its lifespan run (views: `generations`, else the settings'
    SQLite file): its runtime, for tests that set the consumer's state themselves
    (`run_consumer` False starts no live consumer), and a client."""
    if generations is None:
        path = settings.sqlite_path()
        assert path is not None
        generations = SqliteGenerations(path)
    app = create_app(settings, generations, run_consumer=run_consumer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://projector") as client:
            yield app.state.runtime, client


@dataclass(frozen=True)
class Message:
    """What the projector's consumer loop reads of an aiokafka ConsumerRecord."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def consumer_loop(db: Path) -> ConsumerLoop:
    """The projector's consumer loop on the active generation of a new SQLite store at `db`
    (its tables created), with no broker: a test sets its state or calls its planning."""
    store = SqliteGenerations(db).open_active()
    store.create()
    return ConsumerLoop(ProjectorSettings(), store, ProjectorMetrics())
