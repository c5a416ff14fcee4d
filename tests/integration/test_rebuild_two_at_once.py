"""Attack on the shared PostgreSQL generations: two instances of one database each run a
rebuild, overlapping. One switch wins; the other rebuild must end in bounded time (done, or
failed with the active generation serving), both instances then serve and update the same active
generation, and no generation schema is left behind."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from tests.support import (
    ADMIN,
    SharePostgres,
    active_generation,
    eventually,
    generation_schemas,
    shows_wave,
)

pytestmark = pytest.mark.broker
ITEMS = 12


class _SlowToStart(PostgresGenerations):
    """The new generation's first `create` waits for `go` (a rebuild on a slower instance, or
    one with more to load: it is still building when the other instance's rebuild switches)."""

    def __init__(self, url: str, go: threading.Event) -> None:
        super().__init__(url)
        self.go = go

    def open_new(self) -> PostgresStore:
        store = super().open_new()
        create, go = store.create, self.go

        def slow_create(*args: Any, **kwargs: Any) -> None:
            assert go.wait(120)
            create(*args, **kwargs)

        store.create = slow_create  # type: ignore[method-assign]
        return store


async def test_a_rebuild_that_overlaps_another_instances_rebuild_ends(
    share_postgres: SharePostgres,
) -> None:
    shared = await share_postgres(ITEMS, partitions=2)
    url = shared.url
    go = threading.Event()
    both = [PostgresGenerations(url), _SlowToStart(url, go)]
    async with shared.instances(both) as [(first, first_client), (second, second_client)]:
        runtimes = [first, second]
        old = first.store.name
        try:
            slow = await second_client.post("/v1/admin/rebuild", headers=ADMIN)
            assert slow.status_code == 202
            fast = await first_client.post("/v1/admin/rebuild", headers=ADMIN)
            assert fast.status_code == 202
            await eventually(lambda: first.rebuild_status.state != "running", timeout_s=60)
            assert first.rebuild_status.state == "done", first.rebuild_status
            active = active_generation(url)
            # The other instance follows, and the retired generation goes once it left it.
            await eventually(lambda: second.store.name == active, timeout_s=30)
            await eventually(lambda: old not in generation_schemas(url), timeout_s=60)
        finally:
            go.set()  # the slow rebuild goes on
        # It ends: switched after the first (done), or refused (failed, nothing switched).
        await eventually(lambda: second.rebuild_status.state != "running", timeout_s=60)
        active = active_generation(url)
        await eventually(lambda: all(r.store.name == active for r in runtimes), timeout_s=30)
        # Both keep updating the active generation.
        await shared.wave(2, ITEMS)
        for client in (first_client, second_client):
            await shows_wave(client, 2, ITEMS)
        # Only the active generation is left.
        await eventually(lambda: generation_schemas(url) == {active}, timeout_s=60)
