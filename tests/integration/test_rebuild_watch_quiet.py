"""On a real PostgreSQL (no broker): the watch that checks the pointer every second, and the
follow of another instance's switch it retries every second, each say once that they fail and
once that they work again, not every second while the store is unreachable (before: a warning
a second)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from catalog_stream.ports import free_port
from projector.app import create_app
from projector.consumer import ConsumerLoop
from projector.errors import StoreUnavailable
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import eventually

UNREACHABLE_S = 4.0  # four checks or so fail meanwhile


async def test_the_watch_says_once_that_its_checks_fail_and_once_that_they_work(
    postgres: LocalPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres.create_database("rebuild_watch_quiet")
    generations = PostgresGenerations(url)
    app = create_app(ProjectorSettings(store_url=url), generations, False)
    caplog.set_level(logging.INFO, logger="projector.generation_follower")
    async with app.router.lifespan_context(app):
        generations.url = f"postgresql://127.0.0.1:{free_port()}/nothing"  # refused
        await asyncio.sleep(UNREACHABLE_S)
        generations.url = url
        await eventually(lambda: len(caplog.records) >= 2, timeout_s=30)
        await asyncio.sleep(2)  # checks that work say nothing more
    said = [(r.levelno, r.getMessage().split(":")[0]) for r in caplog.records]
    assert said == [
        (logging.WARNING, "could not check the active generation, retrying every second"),
        (logging.INFO, "the active generation is checked again"),
    ]


async def test_a_failing_follow_says_once_that_it_fails_and_once_that_it_works(
    postgres: LocalPostgres, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run(self: ConsumerLoop, stop: asyncio.Event) -> None:
        await stop.wait()  # the live consumer a follow starts: no broker here

    monkeypatch.setattr(ConsumerLoop, "run", run)
    url = postgres.create_database("rebuild_follow_quiet")
    generations = PostgresGenerations(url)
    app = create_app(ProjectorSettings(store_url=url), generations, False)
    caplog.set_level(logging.INFO, logger="projector.generation_follower")
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        opens = generations.open_active

        def unreachable() -> PostgresStore:
            raise StoreUnavailable("cannot reach the view store")

        monkeypatch.setattr(generations, "open_active", unreachable)  # every follow fails
        other = PostgresGenerations(url)  # another instance's rebuild switches
        elsewhere = other.open_new()
        elsewhere.create()
        other.activate(elsewhere)
        await asyncio.sleep(UNREACHABLE_S)
        monkeypatch.setattr(generations, "open_active", opens)
        await eventually(lambda: runtime.store.name == elsewhere.name, timeout_s=30)
        await asyncio.sleep(2)  # the follow that worked says nothing more
    elsewhere.close()
    said = [(r.levelno, r.getMessage().split(":")[0]) for r in caplog.records]
    assert said == [
        (logging.WARNING, "could not follow the active generation, retrying every second"),
        (logging.INFO, "views switched by another instance"),
    ]
