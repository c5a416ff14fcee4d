"""On a real SQLite store (no broker: the rebuild fails before its consumer starts): a failed
rebuild whose generation cannot be deleted either (here both fail on the same directory where
its file should be: a disk or an operator's mess) raises its own failure, the one its status
reports, and logs the deletion's. Before, SqliteGenerations.discard let the OSError out
(IsADirectoryError), and that, not the rebuild's failure, was what the rebuild raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector.errors import StoreUnavailable
from projector.generations import SqliteGenerations
from projector.rebuilding import Rebuild
from projector.settings import ProjectorSettings
from projector.sqlite_store import SqliteStore
from tests.projector_harness import projector_in_process


class _Blocked(SqliteGenerations):
    """A new generation's file is a directory: it cannot be opened, nor deleted."""

    def open_new(self) -> SqliteStore:
        path = self.path.with_name("views.7.db")
        path.mkdir()
        return SqliteStore(path)


async def test_a_rebuild_whose_discard_fails_raises_its_own_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ProjectorSettings(store_url=f"sqlite:///{tmp_path / 'views.db'}")
    generations = _Blocked(tmp_path / "views.db")
    async with projector_in_process(settings, generations, False) as (runtime, client):
        try:
            await Rebuild(runtime).run()
        except Exception as exc:  # whatever it raises is what is checked
            raised = exc
        else:
            pytest.fail("the rebuild did not fail")
        status = runtime.rebuild_status
        assert status.state == "failed", status
        assert isinstance(raised, StoreUnavailable), repr(raised)
        assert str(raised) == status.error, (raised, status)
        assert "cannot connect to the view store" in str(raised)
        logged = [r for r in caplog.records if "was not dropped" in r.getMessage()]
        assert len(logged) == 1, [r.getMessage() for r in caplog.records]
        assert "views.7.db" in str(logged[0].exc_info and logged[0].exc_info[1])
        assert (await client.get("/v1/catalogs")).status_code == 200  # the old one serves
