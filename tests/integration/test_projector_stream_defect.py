"""An open change stream whose read the store rejects for a reason no retry mends (a defect,
store_faults: here the feed's table renamed away) says so once, at ERROR with its traceback,
and waits; mended, it goes on from where it was. Before, StoreFailed was caught as an outage:
the stream sent keep-alives for ever and nothing was logged (found by the attack on d18a533)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from projector.generations import SqliteGenerations
from tests.factories import change
from tests.support import (
    Topics,
    eventually,
    produce_events,
    projector_settings,
    read_stream_ids,
    serving_projector,
)

pytestmark = pytest.mark.broker


def _said(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "projector.streams"]


def _rename(db: Path, old: str, new: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def test_a_stream_whose_read_is_a_defect_says_so_once_and_goes_on_when_mended(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="projector.streams")
    db = tmp_path / "views.db"
    settings = projector_settings(kafka_bootstrap, topics, db)
    async with serving_projector(settings, SqliteGenerations(db)) as base:
        ids: list[int] = []
        ended = asyncio.Event()
        reader = asyncio.create_task(read_stream_ids(base, ids, ended))
        try:
            await produce_events(kafka_bootstrap, topics.product, [change("a", "c", price="1.00")])
            await eventually(lambda: len(ids) == 1, timeout_s=60)
            _rename(db, "changes", "changes_gone")  # the stream's next wake (at most 15 s) fails
            await eventually(lambda: _said(caplog), timeout_s=30)
            await asyncio.sleep(3)  # it asks again every second meanwhile: still said once
            said = _said(caplog)
            assert len(said) == 1, [r.getMessage() for r in said]
            assert said[0].exc_info is not None
            assert not ended.is_set()
            _rename(db, "changes_gone", "changes")  # mended
            await produce_events(kafka_bootstrap, topics.product, [change("b", "c", price="1.00")])
            await eventually(lambda: len(ids) == 2, timeout_s=60)
            assert ids == [1, 2]
            assert not ended.is_set()
        finally:  # an open stream would hold the server's shutdown
            reader.cancel()
