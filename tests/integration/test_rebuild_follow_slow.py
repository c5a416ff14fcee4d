"""Through the real broker and a real PostgreSQL: an instance that takes long to follow another
instance's switch (a slow consumer to stop, a slow database) still says every second that it
uses the old generation, whose readers it serves meanwhile, so no other instance drops that
schema under it (before: no heartbeat while following; after 15 s the old schema counted as
unused elsewhere)."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest

from projector.generations_postgres import PostgresGenerations
from projector.postgres_store import PostgresStore
from tests.support import (
    SharePostgres,
    eventually,
    shows_wave,
)

pytestmark = pytest.mark.broker
ITEMS = 4
EXPIRY_S = 15  # an instance unheard of for this long is gone (generations_postgres)


class _SlowToFollow(PostgresGenerations):
    """Once armed, opening the active generation waits for `go` (a follow that takes long)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.armed = False
        self.entered, self.go = threading.Event(), threading.Event()

    def open_active(self) -> PostgresStore:
        if self.armed:
            self.entered.set()
            assert self.go.wait(120)
        return super().open_active()


async def test_an_instance_slow_to_follow_a_switch_keeps_saying_it_uses_the_old_generation(
    share_postgres: SharePostgres,
) -> None:
    shared = await share_postgres(ITEMS)
    url = shared.url
    generations = _SlowToFollow(url)
    async with shared.instances([generations]) as [(runtime, client)]:
        old = runtime.store.name
        other = PostgresGenerations(url)  # another instance, whose rebuild switches
        fresh = other.open_new()
        fresh.create()
        generations.armed = True
        other.activate(fresh)
        try:
            await eventually(generations.entered.is_set, timeout_s=30)  # it follows, slowly
            for _ in range(EXPIRY_S + 3):
                await asyncio.sleep(1)
                assert other.in_use_elsewhere(old)  # so the other instance keeps it
                item = (await client.get("/v1/catalogs/c1/items/i1")).json()
                assert Decimal(item["current_price"]) == Decimal("1.01")  # served from it
        finally:
            generations.armed = False
            generations.go.set()
        await eventually(lambda: runtime.store.name == fresh.name, timeout_s=30)
        await eventually(lambda: not other.in_use_elsewhere(old), timeout_s=30)  # left it
        await shared.wave(2, ITEMS)
        await shows_wave(client, 2, ITEMS)
        fresh.close()
