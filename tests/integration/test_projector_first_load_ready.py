"""/readyz while a first catch-up loads in parts honours `ready_max_lag` as the live path does:
ready once the views are at most that far behind. The views hold none of the parts' records
before the merge commits, so they are behind by all of them however far the parts are.

An operator allowing any lag (the live path then answers ready as soon as it knows the ends) got
503 for the whole load on the code before (2589f6e): the load ignored the setting. A lag allowed
below the topic's length still says not ready while the parts load, even once what they have left
is below it (the views, empty till the merge, would answer 404 for every item)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from tests.integration.test_projector_first_load_attack import Placed, _item, _produce, _settled
from tests.projector_harness import projector_in_process
from tests.support import (
    Topics,
    eventually,
    first_load_paused,
    make_topics,
    projector_settings,
    signal_all,
)

pytestmark = pytest.mark.broker
ANY_LAG = 10**9


async def _topic(bootstrap: str) -> tuple[Topics, int]:
    records: list[Placed] = []
    for n in range(400):
        records += _item(f"a-{n}", n, 0) + _item(f"b-{n}", n, 1) + _item(f"c-{n}", n, 2)
    topics = await make_topics(bootstrap, 3)
    await _produce(bootstrap, topics.product, records)
    return topics, len(records)


async def _ready(client: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    answer = await client.get("/readyz")
    return answer.status_code, answer.json()


async def test_readiness_during_a_first_load_honours_ready_max_lag(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics, written = await _topic(kafka_bootstrap)
    for max_lag, expected in ((ANY_LAG, 200), (written - 1, 503)):
        db = tmp_path / f"views-{max_lag}.db"
        async with first_load_paused(kafka_bootstrap, topics, db, ready_max_lag=max_lag) as (
            runtime,
            client,
            workers,
        ):
            try:
                loading = runtime.first_load
                assert loading is not None
                # some loaded, so what the parts have left is below `written - 1`
                while loading.applied == 0:
                    signal_all(workers, signal.SIGCONT)
                    await asyncio.sleep(0.02)
                    signal_all(workers, signal.SIGSTOP)
                    await asyncio.sleep(0.3)  # (the parts' progress is read every 0.2 s)
                assert runtime.first_load is loading  # still loading
                status, body = await _ready(client)
            finally:
                signal_all(workers, signal.SIGCONT)
            assert (status, body["status"]) == (
                expected,
                "ready" if expected == 200 else "catching up",
            ), (max_lag, body)
            assert 0 < int(str(body["lag"])) < written - 1, body
            await eventually(
                lambda: _settled(kafka_bootstrap, runtime.store, topics.product, 3), timeout_s=120
            )

            async def ready_at_the_end() -> bool:  # (once the live consumer knows the ends)
                return await _ready(client) == (200, {"status": "ready", "lag": 0})

            await eventually(ready_at_the_end, timeout_s=30)


async def test_the_live_path_allowing_any_lag_is_ready_before_it_caught_up(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """(What the first load now matches: one process allowed any lag is ready at once.)"""
    topics, _ = await _topic(kafka_bootstrap)
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "one.db", rebuild_workers=1,
        batch_max_records=10, ready_max_lag=ANY_LAG,
    )  # fmt: skip
    async with projector_in_process(settings) as (runtime, client):
        await eventually(lambda: runtime.projector.ends_known(), timeout_s=30, every_s=0.01)
        assert (await _ready(client))[0] == 200
