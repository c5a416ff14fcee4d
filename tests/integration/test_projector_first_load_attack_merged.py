"""A projector SIGKILLed right after its first catch-up's merge committed, before its live
consumer started (the parts not yet deleted, the counts not yet added): the next start goes on
from the merged views, deletes the parts and gives exactly one process's views."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import httpx

from catalog_stream.ports import free_port
from tests.integration import test_rebuild_killed as killed
from tests.integration.test_projector_first_load_killed import SPLIT_EVENTS, _one_process
from tests.integration.test_rebuild_killed import _events, _is, _views
from tests.integration.test_rebuild_split_killed import _generation_files
from tests.support import Topics, eventually, produce_events


def _merged(db: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.01) as read:
            return bool(read.execute("SELECT COUNT(*) FROM offsets").fetchone()[0])
    except sqlite3.Error:
        return False


async def test_a_projector_killed_right_after_the_merge(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    db, port, log = tmp_path / "views.db", free_port(), tmp_path / "projector.log"
    written = await produce_events(kafka_bootstrap, topics.product, _events(0, SPLIT_EVENTS))
    settings = {
        "CATALOG_PROJECTOR_REBUILD_WORKERS": "2",
        "CATALOG_PROJECTOR_FIRST_LOAD_MIN_RECORDS": "100",
    }
    with killed.projector(kafka_bootstrap, topics, db, port, log, **settings) as process:
        deadline = time.monotonic() + 180
        while not await asyncio.to_thread(_merged, db):
            assert time.monotonic() < deadline, "never merged"
            await asyncio.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.wait()
    caught = "live consumer" if "first catch-up loaded in parts" in log.read_text() else "merge"
    url = f"http://127.0.0.1:{port}"
    with killed.projector(kafka_bootstrap, topics, db, port, log, **settings):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await eventually(lambda: _is(client, written), timeout_s=180, every_s=0.2)
            after = _views(db)
    assert not [n for n in _generation_files(tmp_path) if n.endswith(".db")], caught
    assert after == await _one_process(kafka_bootstrap, topics, tmp_path / "one.db", written)
