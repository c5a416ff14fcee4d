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
from projector.postgres_store import PostgresStore
from projector.runtime import Runtime
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


async def test_a_resume_the_watch_starts_while_stopping_leaves_no_consumer_running(
    postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop cancels the watch's tasks one after another; a heartbeat answers while it
    cancels one listed before the watch (here: retirements, listed first). Before, the watch
    then started a resume the stop never cancelled: it waited for the ending live consumer
    beside the stop's own wait, started a new one as it ended, and the stop, waking next,
    forgot it: a live consumer left running after the stop. The heartbeat is held at its answer
    (the follower's own call, wrapped), released in the step that stops: every time the same."""
    started: list[ConsumerLoop] = []
    running: list[ConsumerLoop] = []
    stops: list[asyncio.Event] = []
    end = asyncio.Event()  # the first live consumer's end (a last mirror to Kafka) is slow

    async def run(self: ConsumerLoop, stop: asyncio.Event) -> None:
        started.append(self)
        running.append(self)
        stops.append(stop)
        try:
            await (end if len(started) == 1 else stop).wait()
        finally:
            running.remove(self)

    monkeypatch.setattr(ConsumerLoop, "run", run)
    url = postgres.create_database("stop_late_resume")
    app = create_app(ProjectorSettings(store_url=url), PostgresGenerations(url), run_consumer=False)
    runtime: Runtime = app.state.runtime
    follower = runtime.follower
    main = asyncio.current_task()
    calls: list[asyncio.Event] = []  # the watch's heartbeats from now on, each held until set
    answered = asyncio.Event()  # the second one read the pointer
    heartbeat, stop_live = follower.heartbeat, runtime.stop_live_consumer

    async def held(using: list[str] | None = None) -> str | None:
        if using is not None:  # (the stop's last one)
            return await heartbeat(using)
        calls.append(released := asyncio.Event())
        if len(calls) == 1:  # held while the live consumer "sees a move", then no answer
            await released.wait()
            return None  # (as where no other process moves the pointer: nothing follows)
        active = await heartbeat()  # read with the move seen before: a resume, if answered
        answered.set()
        await released.wait()
        return active

    async def stopping_live() -> None:
        if asyncio.current_task() is main:  # the stop's own call: the consumer ends now
            end.set()
        await stop_live()

    try:
        async with app.router.lifespan_context(app):
            runtime._start_live()
            await eventually(lambda: len(running) == 1)
            monkeypatch.setattr(follower, "heartbeat", held)
            monkeypatch.setattr(runtime, "stop_live_consumer", stopping_live)
            await eventually(lambda: len(calls) == 1, timeout_s=10)  # no heartbeat under way
            runtime.projector.moved = True  # its batch saw a move, and the pointer came back
            calls[0].set()
            await asyncio.wait_for(answered.wait(), 10)
            assert not runtime.moving  # (no resume yet: the held answer would start it)
            (watch,) = [t for t in follower._tasks if "._watch" in repr(t.get_coro())]
            for n in range(1, 100):  # retirements until one is listed before the watch
                if next(iter(follower._tasks)) is not watch:
                    break
                follower.retire(PostgresStore(url, f"views_{n}"), drop=False)
            assert next(iter(follower._tasks)) is not watch
            calls[1].set()  # the watch resumes while the stop cancels the first one listed
        # (before: a live consumer started by a resume after the stop ran on)
        assert running == []
        assert len(started) == 1
    finally:
        for stop in stops:
            stop.set()
        await asyncio.sleep(0.1)
