"""SqliteGenerations.discard_abandoned at a start reads the pointer, then lists the
directory and deletes every generation file but the one it read. Nothing stops another process
on the same file (a rolling restart: the new process starts before the old one has stopped)
from activating its rebuilt generation in between: the starting process then deletes the
generation the pointer names and the old process serves (and its own Runtime opened the
generation the pointer named before, which it then keeps using, unlinked)."""

from __future__ import annotations

from pathlib import Path

from projector.batch import plan_batch
from projector.generations import SqliteGenerations
from projector.records import Incoming
from tests.factories import change


def test_a_start_never_deletes_the_generation_the_pointer_names(tmp_path: Path) -> None:
    running = SqliteGenerations(tmp_path / "views.db")  # the process still serving
    running.discard_abandoned()  # its own start
    old = running.open_active()
    old.create()
    fresh = running.open_new()  # its rebuild, complete
    fresh.create()
    fresh.write("t", plan_batch([Incoming(0, 0, "42", "a", change("a"))], {}, lambda _: None))

    starting = SqliteGenerations(tmp_path / "views.db")  # the process starting
    read_pointer = starting.open_active

    def open_active_then_other_activates():  # type: ignore[no-untyped-def]
        found = read_pointer()
        running.activate(fresh)  # the running process switches right after
        return found

    starting.open_active = open_active_then_other_activates  # type: ignore[method-assign]
    starting.discard_abandoned()
    running.activate(fresh)  # (if the start did not read the pointer, the switch comes now)
    assert running.open_active().path == fresh.path  # the pointer names it
    assert fresh.path.exists(), "the active generation was deleted"
    fresh.close()
    old.close()


def test_a_start_leaves_a_rebuild_another_live_process_is_loading(tmp_path: Path) -> None:
    running = SqliteGenerations(tmp_path / "views.db")
    running.discard_abandoned()  # its own start
    running.open_active().create()
    loading = running.open_new()
    loading.create(False)
    loading.write("t", plan_batch([Incoming(0, 0, "42", "a", change("a"))], {}, lambda _: None))
    SqliteGenerations(tmp_path / "views.db").discard_abandoned()  # a second process starts
    assert loading.path.exists(), "a live rebuild's file was deleted under it"
    loading.close()
