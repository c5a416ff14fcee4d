"""On a real PostgreSQL (the live consumers stand-ins, no broker): the projector stops while its
watch is starting the live consumer again (a resume: the live consumer stopped for a move the
pointer no longer names), waiting for the one that stopped to end. Before, the stop's
cancellation of that wait was taken for the old consumer's end (stop_live_consumer swallows
it), and the resume started a new live consumer in the middle of the stop: with a real broker a
consumer that joins the group, making every other instance's consumer rebalance, only to leave
it again. Now a resume or a follow starts nothing once the stop began, and the stop also cancels
what the watch started while it stopped the others."""

from __future__ import annotations

import asyncio

import pytest

from projector.app import create_app
from projector.consumer import ConsumerLoop
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.support import eventually


async def test_a_stop_during_a_resume_starts_no_live_consumer(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[ConsumerLoop] = []  # every live consumer started
    running: list[ConsumerLoop] = []  # and those running now
    move = asyncio.Event()  # the running one's batch sees a move
    stopping = asyncio.Event()

    async def run(self: ConsumerLoop, stop: asyncio.Event) -> None:
        started.append(self)
        running.append(self)
        try:
            waits = [asyncio.ensure_future(e.wait()) for e in (stop, move)]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
            if move.is_set():
                self.moved = True  # (as a batch refused by the pointer leaves it)
                move.clear()
                stopping.set()
                await asyncio.Event().wait()  # its end (a last mirror to Kafka) is slow
        finally:
            running.remove(self)

    monkeypatch.setattr(ConsumerLoop, "run", run)
    url = postgres.create_database("stop_resume")
    app = create_app(ProjectorSettings(store_url=url), PostgresGenerations(url), run_consumer=False)
    runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        runtime._start_live()  # the live consumer, as a start with run_consumer does
        await eventually(lambda: len(running) == 1)
        move.set()  # the pointer never moved: the watch's next heartbeat resumes
        await asyncio.wait_for(stopping.wait(), 10)
        await eventually(lambda: runtime.moving, timeout_s=10)  # the resume waits for its end
        before = len(started)
    # (before: one more started during the stop, then stopped by it)
    assert len(started) == before == 1
    assert running == []
