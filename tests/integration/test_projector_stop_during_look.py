"""A stop during the look at the topic's bounds (first_load.topic_bounds, before a first catch-up
in parts) against bootstrap servers that do not answer the look: the stop ends within a couple of
seconds and leaves nothing of the look behind (no connection open at the servers, no consumer
or connection unclosed: ResourceWarnings, errors under strict warnings).

Three proxies to the broker answer every client but the look. Either they answer none of the
look's requests (aiokafka's start then waits in its connection's version lookup), or all but
its metadata requests (it waits in the bootstrap's metadata request, the one place where a
cancellation leaves its connection open). Before, the stop waited for aiokafka's start to fail
by itself: its 5 s request timeout on each server, about 15 s (fails on the code before)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import warnings
from pathlib import Path

import pytest

from tests.integration.test_projector_first_load_attack31 import _an_open_look, _topic
from tests.kafka_proxy import LookProxy
from tests.projector_harness import projector_in_process
from tests.support import eventually, projector_settings

pytestmark = pytest.mark.broker


@pytest.mark.parametrize("swallowed", ["every request", "metadata requests"])
async def test_a_stop_during_an_unanswered_look_is_quick_and_leaves_nothing(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, swallowed: str
) -> None:
    topics, _ = await _topic(kafka_bootstrap)
    proxies = [LookProxy(kafka_bootstrap, swallowed == "metadata requests") for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        through = ",".join([await stack.enter_async_context(p.running()) for p in proxies])
        settings = projector_settings(
            through, topics, tmp_path / "views.db", rebuild_workers=2, first_load_min_records=1
        )
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", ResourceWarning)
            async with projector_in_process(settings) as (runtime, _client):
                await eventually(
                    lambda: any(p.swallowed.is_set() for p in proxies), timeout_s=30, every_s=0.01
                )
                await asyncio.sleep(0.5)  # (well inside the first server's 5 s)
                assert sum(p.looks for p in proxies) == 1  # the look waits for its answer
                assert runtime._live is None
                started = time.monotonic()  # the stop: the lifespan's end
            stopping_s = time.monotonic() - started
            await asyncio.sleep(0.2)  # (a connection's closing takes a turn of the loop)
            left = sum(p.looks for p in proxies)
            gc.collect()
            await asyncio.sleep(0.1)
            leaked = [c for c in gc.get_objects() if _an_open_look(c)]
            for consumer in leaked:  # (else collected in a later test, failing it instead)
                await consumer.stop()
    unclosed = [str(w.message) for w in warned if "Unclosed" in str(w.message)]
    unclosed += [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
    unclosed += [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]
    assert (left, len(leaked), unclosed) == (0, 0, [])
    # (before: about 15 s, aiokafka's start waiting 5 s on each server)
    assert stopping_s < 3, stopping_s
