"""SQLite generations on disk: a rebuild's generation is made durable before it is activated;
files a dead process left are deleted on the next start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from projector.batch import plan_batch
from projector.generations import SqliteGenerations
from projector.records import Incoming
from tests.factories import change


def _synchronous(store: object) -> int:
    rows = store._query("PRAGMA synchronous")  # type: ignore[attr-defined]
    return int(rows[0][0])


def test_a_new_generation_is_checkpointed_and_synced_before_it_is_activated(
    tmp_path: Path,
) -> None:
    generations = SqliteGenerations(tmp_path / "views.db")
    fresh = generations.open_new()
    fresh.create(False)
    fresh.write("t", plan_batch([Incoming(0, 0, "42", "a", change("a"))], {}, lambda _: None))
    assert (tmp_path / f"{fresh.path.name}-wal").stat().st_size > 0
    generations.activate(fresh)
    assert generations.open_active().path == fresh.path
    assert (tmp_path / f"{fresh.path.name}-wal").stat().st_size == 0  # all of it in the file
    assert _synchronous(fresh) == 1  # NORMAL again, as the live store always was
    assert fresh.positions("t") == {0: 1}
    reopened = generations.open_active()
    assert _synchronous(reopened) == 1
    assert reopened.positions("t") == {0: 1}
    reopened.close()
    fresh.close()


def test_the_active_generation_opens_with_the_usual_durability(tmp_path: Path) -> None:
    store = SqliteGenerations(tmp_path / "views.db").open_active()
    store.create()
    assert _synchronous(store) == 1
    assert store._query("PRAGMA journal_mode") == [("wal",)]
    store.close()


def test_generations_a_dead_process_left_are_deleted_and_only_they(tmp_path: Path) -> None:
    generations = SqliteGenerations(tmp_path / "views.db")
    first = generations.open_active()
    first.create()
    assert generations.discard_abandoned() == []  # the first generation, active
    active = generations.open_new()
    active.create()
    generations.activate(active)
    half_built = generations.open_new()
    half_built.create(False)
    half_built.write("t", plan_batch([Incoming(0, 0, "42", "a", change("a"))], {}, lambda _: None))
    for store in (first, active, half_built):
        store.close()  # as a killed process leaves them: files, -wal, -shm
    others = ["views.db.active.tmp", "other.1.db", "views.x.db", "views.1.db.bak", "notes.txt"]
    for name in others:
        (tmp_path / name).write_text("kept")
    assert sorted(generations.discard_abandoned()) == sorted([first.path.name,
                                                               half_built.path.name])  # fmt: skip
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted([active.path.name, "views.db.active", "views.db.lock", *others])
    assert generations.open_active().positions("t") == {}
    assert generations.discard_abandoned() == []


def test_nothing_is_deleted_where_no_generation_was_ever_made(tmp_path: Path) -> None:
    assert SqliteGenerations(tmp_path / "missing" / "views.db").discard_abandoned() == []


def test_nothing_is_deleted_while_the_pointer_names_a_missing_file(tmp_path: Path) -> None:
    """Then which file holds the views is for an operator to say: no generation is deleted."""
    generations = SqliteGenerations(tmp_path / "views.db")
    for store in (generations.open_active(), generations.open_new()):
        store.create()
        store.close()
    (tmp_path / "views.db.active").write_text("views.1.db")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert generations.discard_abandoned() == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "views.db.lock") == before


def test_activate_fsyncs_the_pointer_s_directory_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename is durable only once the directory is synced: activate fsyncs the directory's
    own descriptor, after the pointer has its new name."""
    generations = SqliteGenerations(tmp_path / "views.db")
    fresh = generations.open_new()
    fresh.create(False)
    synced: list[tuple[str, str]] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        pointer = generations.pointer.read_text() if generations.pointer.exists() else ""
        synced.append((target, pointer))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    generations.activate(fresh)
    fresh.close()
    assert (str(tmp_path), fresh.path.name) in synced  # the directory, once the pointer moved
    assert synced[-1] == (str(tmp_path), fresh.path.name)


def test_the_generation_the_pointer_names_is_never_deleted(tmp_path: Path) -> None:
    """A rebuild's failure path discards its new generation; if the pointer had moved to it
    already (the switch's last step raised after the rename, or the answer was lost), deleting
    it would leave the pointer naming nothing and the next start on an empty store."""
    generations = SqliteGenerations(tmp_path / "views.db")
    old = generations.open_active()
    old.create()
    fresh = generations.open_new()
    fresh.create()
    generations.activate(fresh)
    generations.discard(fresh)
    assert fresh.path.exists()
    assert generations.open_active().path == fresh.path
    generations.discard(old)  # one no longer active: deleted as before
    assert not old.path.exists()
