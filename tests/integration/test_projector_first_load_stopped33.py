"""A first catch-up in parts whose projector is stopped (SIGTERM, as a deploy does) half-way
keeps its parts, as a SIGKILLed one does: the next start goes on with them from where they
wrote, and keeps each dead letter and restatement of their batches once.

Failed before: the stop deleted the parts (the rebuild's clean-up), so the next start loaded
from nothing and dead-lettered and restated again every record the stopped load had kept below
where its parts had written."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from catalog_stream.broker import free_port
from tests.integration import test_rebuild_killed as killed
from tests.integration.test_projector_first_load_killed import SETTINGS
from tests.integration.test_projector_first_load_killed32 import (
    _a_fifth_in,
    _history,
    _kept_once,
    _one_process,
    _parts_reached,
    _produce_keyed,
    _settled_http,
    _views_of,
)
from tests.support import Topics, alive, eventually, read_topic, signal_all, split_workers_paused


async def test_a_projector_stopped_mid_load_keeps_its_parts_for_the_next_start(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    records = _history(4500)
    await _produce_keyed(kafka_bootstrap, topics.product, records)
    url = f"http://127.0.0.1:{port}"
    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS) as process:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            workers = await split_workers_paused(process.pid)
            await _a_fifth_in(client, workers, len(records))
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 60)
            signal_all(workers, signal.SIGCONT)
    assert "Application shutdown complete" in log.read_text()  # (a stop, not a crash)
    await eventually(lambda: not any(map(alive, workers)), timeout_s=10)
    reached = _parts_reached(tmp_path)
    assert sum(reached.values()) >= len(records) // 5, reached

    with killed.projector(kafka_bootstrap, topics, db, port, log, **SETTINGS):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(
                lambda: _settled_http(client, kafka_bootstrap, topics.product), timeout_s=240
            )
    assert "first catch-up loaded in parts" in log.read_text()
    written = await read_topic(kafka_bootstrap, topics.product, timeout_s=30)
    letters = await read_topic(kafka_bootstrap, topics.projector_dead_letter, timeout_s=30)
    _kept_once(written, letters, [reached])
    assert _views_of(db) == await _one_process(kafka_bootstrap, records, tmp_path / "one.db")
