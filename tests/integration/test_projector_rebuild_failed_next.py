"""On a real PostgreSQL (no broker: no builder gets that far): a rebuild that fails in an outage
of the generations' registry (a database that accepts the connection and never answers: each
connect waits its timeout). Before, GET /v1/admin/rebuild said `failed` before the failure path
had deleted the failed generation, and a POST meanwhile answered 409 "a rebuild is already
running" (here for the discard's connect timeout). Now GET says `running` until the rebuild has
ended, and whenever it says otherwise the next POST starts one."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from tests.postgres import LocalPostgres
from tests.projector_harness import projector_in_process
from tests.support import ADMIN, ADMIN_TOKEN


@contextmanager
def _silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


async def test_a_failed_rebuild_is_said_failed_when_the_next_one_may_start(
    postgres: LocalPostgres,
) -> None:
    url = postgres.create_database("rebuild_failed_next")
    generations = PostgresGenerations(url)
    settings = ProjectorSettings(store_url=url, admin_token=SecretStr(ADMIN_TOKEN))
    async with projector_in_process(settings, generations, False) as (_, client):
        with _silent_port() as port:
            generations.url = f"postgresql://127.0.0.1:{port}/nothing?connect_timeout=2"
            try:
                assert (await client.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 202
                for _ in range(3000):  # (a rebuild's failure here takes a few seconds)
                    status = (await client.get("/v1/admin/rebuild", headers=ADMIN)).json()
                    if status["state"] != "running":
                        break
                    await asyncio.sleep(0.01)
                assert status["state"] == "failed", status
                assert status["error"], status
                again = await client.post("/v1/admin/rebuild", headers=ADMIN)
                # (before: 409 while the failed generation's discard waited for its connect)
                assert again.status_code == 202, again.text
                assert again.json()["state"] == "running"
            finally:
                generations.url = url
