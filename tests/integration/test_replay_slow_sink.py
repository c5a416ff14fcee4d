"""A replay's stall clock ("no record arrived for STALL_S") counts only time spent waiting on
the broker, not time the records' reader (the sink) spent on records already handed over.
Found by the stop-24 attack: `read_range` measured from the last batch's arrival, so a sink
that took most of STALL_S on one batch left the broker a second or two to answer the next
fetch before the replay gave up, calling a slow sink a broker outage. Its own broker, paused
(SIGSTOP) while the sink is slow and resumed before it has been waited on for STALL_S."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import aclosing
from pathlib import Path

import pytest

from catalog_stream.ranges import read_range
from catalog_stream.replay_bounds import Bound
from tests.conftest import start_local_broker
from tests.integration.test_replay_broker_gone import RECORDS, _fill

pytestmark = pytest.mark.broker

STALL_S = 6.0
SINK_S = 5.0  # the sink's time on the first record: most of STALL_S ...
PAUSED_S = SINK_S + 3.0  # ... then the broker is waited on for ~3 s, well under STALL_S


async def test_time_a_slow_sink_spends_on_records_does_not_count_as_a_stalled_broker(
    tmp_path: Path,
) -> None:
    broker = start_local_broker(tmp_path / "kafka")
    assert broker.process is not None
    pid = broker.process.pid
    read, paused_at, resumed_at = 0, 0.0, 0.0

    async def resume_later() -> None:
        nonlocal resumed_at
        await asyncio.sleep(PAUSED_S)
        os.kill(pid, signal.SIGCONT)
        resumed_at = time.monotonic()

    try:
        await _fill(broker.bootstrap_servers, "slow")
        records = read_range(
            broker.bootstrap_servers, "slow", Bound("edge"), Bound("edge"), "test", False, STALL_S
        )
        resuming = None
        async with asyncio.timeout(STALL_S + 120), aclosing(records):
            async for _ in records:
                read += 1
                if read == 1:
                    # Paused before the consumer can ask for the next records (this runs as
                    # the batch is handed over, in the same step of the event loop), so the
                    # next fetch waits on the paused broker once the slow sink is done.
                    os.kill(pid, signal.SIGSTOP)
                    paused_at = time.monotonic()
                    resuming = asyncio.create_task(resume_later())
                    await asyncio.sleep(SINK_S)
        if resuming is not None:
            await resuming
    finally:
        os.kill(pid, signal.SIGCONT)
        broker.stop()
    # The old code raised RangeError("no record arrived ... for 6 s") about STALL_S after the
    # first batch, while the broker was still paused.
    assert read == RECORDS
    assert resumed_at - paused_at >= PAUSED_S
