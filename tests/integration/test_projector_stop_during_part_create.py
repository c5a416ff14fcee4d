"""A stop while a first catch-up in parts makes a part's tables (rebuild_split, `_created`, in a
thread): the part is deleted only once that thread has ended. Before, the load's `finally`
deleted it at once from another thread, closing its SQLite connection under the statement
(seen as a segfault of the whole test process, in attack31's "stop right after the
decision"). Here the thread is held just after the tables are made: before, the part was
closed from another thread while it was held (fails on the code before)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from projector.sqlite_store import SqliteStore
from tests.integration.test_projector_first_load_attack31 import _topic
from tests.projector_harness import projector_in_process
from tests.support import eventually, projector_settings

pytestmark = pytest.mark.broker


async def test_a_part_is_deleted_only_once_its_tables_thread_ended(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics, _ = await _topic(kafka_bootstrap)
    db = tmp_path / "views.db"
    settings = projector_settings(
        kafka_bootstrap, topics, db, rebuild_workers=2, first_load_min_records=1
    )
    held, release = threading.Event(), threading.Event()
    said: list[str] = []  # what happened to the held part, in order
    create, close = SqliteStore.create, SqliteStore.close
    part: list[SqliteStore] = []

    def held_create(self: SqliteStore, indexes: bool = True) -> None:
        create(self, indexes)
        if self.path != db and not indexes and not part:  # the first part's tables
            part.append(self)
            held.set()
            release.wait(30)
            said.append("tables made")

    def noted_close(self: SqliteStore) -> None:
        if part and self is part[0]:
            said.append("closed")
        close(self)

    monkeypatch.setattr(SqliteStore, "create", held_create)
    monkeypatch.setattr(SqliteStore, "close", noted_close)
    try:
        async with projector_in_process(settings):
            await eventually(held.is_set, timeout_s=60, every_s=0.01)
            # the stop comes now (leaving the context)
        release.set()
        await eventually(lambda: "closed" in said and "tables made" in said, timeout_s=10)
        await asyncio.sleep(0.2)
        assert said[:2] == ["tables made", "closed"]  # (before: closed while held)
        await eventually(lambda: not part[0].path.exists(), timeout_s=10)  # and deleted
    finally:
        release.set()
