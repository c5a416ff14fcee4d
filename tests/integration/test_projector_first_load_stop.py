"""A projector stopped while its look at the topic's bounds (first_load.topic_bounds, before a
first catch-up in parts) is still connecting: nothing of that look is left behind, neither a
connection nor an "Unclosed AIOKafkaConnection" (a ResourceWarning, an error under the tests'
strict warnings), and the stop still ends within seconds.

The look's bootstrap goes through a proxy that holds the broker's answer to its metadata
request for a second (a broker slow under load): the stop comes while aiokafka's start waits for
it. Fails on the code before (2589f6e): the stop cancelled that start, whose bootstrap connection
aiokafka had not yet recorded anywhere `stop` closes; it stayed open until collected."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from pathlib import Path

import pytest

from tests.kafka_proxy import SlowMetadata
from tests.projector_harness import projector_in_process
from tests.support import Topics, eventually, projector_settings

pytestmark = pytest.mark.broker


async def test_a_stop_during_the_look_at_the_topic_leaves_no_connection(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = SlowMetadata(kafka_bootstrap)
    async with proxy.running() as through:
        settings = projector_settings(
            through, topics, tmp_path / "views.db", rebuild_workers=2, first_load_min_records=1
        )
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", ResourceWarning)
            async with projector_in_process(settings):
                await eventually(proxy.held.is_set, timeout_s=30, every_s=0.01)
                started = time.monotonic()  # the stop: the lifespan's end
            stopping_s = time.monotonic() - started
            await asyncio.sleep(0.2)  # (a connection's closing takes a turn of the loop)
            left = proxy.open
            gc.collect()  # (what was left unclosed says so when collected)
            await asyncio.sleep(0.1)
    unclosed = [str(w.message) for w in warned if "Unclosed" in str(w.message)]
    unclosed += [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
    assert unclosed == []
    assert left == 0
    assert stopping_s < 10, stopping_s
