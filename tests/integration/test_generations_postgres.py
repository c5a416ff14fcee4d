"""PostgreSQL generations shared by several instances: a live batch is never written into a
generation the pointer no longer names, waits for a switch in progress, and a start drops only
the schemas no live instance uses."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from projector.batch import BatchPlan, plan_batch
from projector.errors import GenerationMoved
from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from projector.records import Incoming
from tests.factories import change
from tests.postgres import LocalPostgres


def _plan() -> BatchPlan:
    return plan_batch([Incoming(0, 0, "42", "a", change("a"))], {}, lambda _: None)


def _generations(postgres: LocalPostgres) -> PostgresGenerations:
    return PostgresGenerations(postgres.create_database(f"gens_{uuid.uuid4().hex[:12]}"))


def _made(store: PostgresStore) -> PostgresStore:
    """The generation with its tables made."""
    store.create()
    return store


def _schemas(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        return {str(r[0]) for r in connection.execute("SELECT nspname FROM pg_namespace")}


def test_a_live_batch_is_not_written_once_another_instance_moved_the_pointer(
    postgres: LocalPostgres,
) -> None:
    one = _generations(postgres)
    other = PostgresGenerations(one.url)  # another instance
    live = _made(one.open_active())
    fresh = _made(other.open_new())
    other.activate(fresh)
    with pytest.raises(GenerationMoved):
        live.write("t", _plan())
    assert live.positions("t") == {}
    followed = one.open_active()
    assert followed.name == fresh.name
    followed.write("t", _plan())  # the new generation takes it
    assert followed.positions("t") == {0: 1}
    for store in (live, fresh, followed):
        store.close()


def test_a_live_batch_waits_for_a_switch_in_progress_and_is_then_refused(
    postgres: LocalPostgres,
) -> None:
    generations = _generations(postgres)
    live = _made(generations.open_active())
    fresh = _made(generations.open_new())
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            live.write("t", _plan())
            outcome.append(None)
        except BaseException as exc:  # the test looks at it
            outcome.append(exc)

    with generations.holding_pointer() as active:
        assert active == live.name
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(1.0)
        assert writer.is_alive()  # waits on the pointer row: the positions stay as read
        assert live.positions("t") == {}
        generations.activate(fresh)
    writer.join(30)
    [refused] = outcome
    assert isinstance(refused, GenerationMoved)
    assert live.positions("t") == {}
    live.close()
    fresh.close()


def test_a_switch_given_up_leaves_the_pointer_and_lets_batches_through(
    postgres: LocalPostgres,
) -> None:
    generations = _generations(postgres)
    live = _made(generations.open_active())
    with generations.holding_pointer():
        pass  # the rebuild failed before activating
    live.write("t", _plan())
    assert live.positions("t") == {0: 1}
    assert generations.open_active().name == live.name
    live.close()


def test_a_start_drops_only_the_generations_no_live_instance_uses(
    postgres: LocalPostgres,
) -> None:
    starting = _generations(postgres)
    running = PostgresGenerations(starting.url)
    active = _made(starting.open_active())
    building, abandoned = running.open_new(), starting.open_new()
    running.heartbeat([active.name, building.name])  # a rebuild under way elsewhere
    building.create()
    abandoned.create()  # a rebuild whose instance died: no one says it uses it
    assert starting.discard_abandoned() == [abandoned.name]
    assert {active.name, building.name} <= _schemas(starting.url)
    assert abandoned.name not in _schemas(starting.url)
    assert starting.in_use_elsewhere(building.name)
    assert not running.in_use_elsewhere(building.name)  # its own use is not "elsewhere"
    running.heartbeat([active.name])  # the rebuild ended
    assert not starting.in_use_elsewhere(building.name)
    for store in (active, building, abandoned):
        store.close()


def test_an_instances_overlapping_heartbeats_both_land(postgres: LocalPostgres) -> None:
    """A rebuild says it uses its new generation while the watch's heartbeat is under way:
    both land, the later one's list kept (before: the later one failed on a duplicate key, and
    with it the rebuild)."""
    generations = _generations(postgres)
    active = generations.open_active()
    generations.heartbeat([active.name])
    building = generations.open_new()
    failed: list[BaseException] = []

    def beat(using: list[str]) -> None:
        try:
            generations.heartbeat(using)
        except BaseException as exc:  # the test looks at it
            failed.append(exc)

    with psycopg.connect(generations.url) as holder:  # holds the rows: both beats wait on them
        holder.execute(
            "SELECT 1 FROM public.catalog_stream_instances WHERE instance = %s FOR UPDATE",
            (generations.instance,),
        )
        watch = threading.Thread(target=beat, args=([active.name],))
        watch.start()
        watch.join(0.5)
        rebuild = threading.Thread(target=beat, args=([active.name, building.name],))
        rebuild.start()
        rebuild.join(0.5)
    watch.join(30)
    rebuild.join(30)
    assert failed == []
    with psycopg.connect(generations.url) as connection:
        rows = connection.execute(
            "SELECT schema_name FROM public.catalog_stream_instances WHERE instance = %s",
            (generations.instance,),
        ).fetchall()
    assert {str(r[0]) for r in rows} == {active.name, building.name}
    active.close()


def test_the_generation_the_pointer_names_is_never_dropped(postgres: LocalPostgres) -> None:
    """As for SQLite: a rebuild's failure path after the pointer moved (a COMMIT whose answer
    was lost) must not drop the generation every instance now serves."""
    one = _generations(postgres)
    old = _made(one.open_active())
    fresh = _made(one.open_new())
    one.activate(fresh)
    one.discard(fresh)
    assert fresh.schema in _schemas(one.url)
    assert one.open_active().schema == fresh.schema
    one.discard(old)
    assert old.schema not in _schemas(one.url)
