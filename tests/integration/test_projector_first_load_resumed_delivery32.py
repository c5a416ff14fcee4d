"""A first catch-up killed half-way and resumed from its parts (first_load_parts.py) still fills
the delivery windows with every postback of the last day, through the real broker and a real
SIGKILL: a resumed part's worker counts only what it reads after the restart, so the windows are
read from the topic then (as after any restart), not added up from the parts."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx

from catalog_stream.ports import free_port
from tests.integration import test_rebuild_killed as killed
from tests.integration.test_projector_first_load_attack import Placed, _item, _produce
from tests.integration.test_projector_first_load_killed import SETTINGS
from tests.integration.test_projector_first_load_killed32 import (
    _a_fifth_in,
    _parts_reached,
    _settled_http,
)
from tests.support import Topics, alive, eventually, signal_all, split_workers_paused


async def _received_last_hour(client: httpx.AsyncClient) -> int:
    found: dict[str, Any] = (await client.get("/v1/delivery")).json()
    return sum(c["last_hour"]["received"] for c in found["catalogs"])


async def test_a_resumed_first_load_counts_every_postback_in_the_windows(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    records: list[Placed] = []
    for n in range(1500):  # received 5 minutes ago: in the last hour's window
        records += _item(f"i-{n % 90}", n % 50, n % 3, recent=True)
    await _produce(kafka_bootstrap, topics.product, records)
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    url = f"http://127.0.0.1:{port}"
    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            workers = await split_workers_paused(process.pid)
            await _a_fifth_in(client, workers, len(records))
            process.send_signal(signal.SIGKILL)
            process.wait()
            signal_all(workers, signal.SIGCONT)
    await eventually(lambda: not any(map(alive, workers)), timeout_s=10)
    assert sum(_parts_reached(tmp_path).values()) >= len(records) // 5

    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(
                lambda: _settled_http(client, kafka_bootstrap, topics.product), timeout_s=240
            )

            async def counted() -> int:
                found = await _received_last_hour(client)
                return found if found >= len(records) else 0

            try:
                found = await eventually(counted, timeout_s=30)
            except AssertionError:
                found = await _received_last_hour(client)
    assert "first catch-up loaded in parts" in log.read_text()
    assert found == len(records)
