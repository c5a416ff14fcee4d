"""The projector's read API through the real broker: rebuilds, the live change stream,
read-your-writes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_contract.events import Availability
from catalog_stream.ports import free_port
from projector.generations import Generations, SqliteGenerations
from tests.factories import change
from tests.support import (
    ADMIN,
    ADMIN_TOKEN,
    Topics,
    caught_up,
    eventually,
    produce_events,
    projector_settings,
    rebuilt,
    run_cli,
    running_projector,
    serving_projector,
)

pytestmark = pytest.mark.broker


async def test_rebuild_while_readers_query_never_shows_a_half_built_view(
    kafka_bootstrap: str, topics: Topics, generations: Generations, tmp_path: Path
) -> None:
    events = [
        change(
            f"i{n % 400}",
            f"c{n % 3}",
            minute=n,
            price=f"{1 + n % 50}.25",
            stock=Availability.IN_STOCK,
        )
        for n in range(4000)
    ]
    written = await produce_events(kafka_bootstrap, topics.product, events)
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "unused.db", batch_max_records=100
    )
    async with running_projector(settings, generations) as projector:
        await caught_up(projector, written, timeout_s=60)
        expected = (await projector.get("/v1/catalogs")).json()
        before = (await projector.get("/v1/admin/rebuild", headers=ADMIN)).json()[
            "active_generation"
        ]
        reads_during_rebuild = 0

        async def read_while_running() -> None:
            nonlocal reads_during_rebuild
            if not reads_during_rebuild:  # a second start while one runs is refused
                assert (await projector.post("/v1/admin/rebuild", headers=ADMIN)).status_code == 409
            answer = await projector.get("/v1/catalogs")
            assert answer.json() == expected  # the old generation or the new one, both complete
            reads_during_rebuild += 1

        status = await rebuilt(
            projector, timeout_s=120, every_s=0, while_running=read_while_running
        )
        assert (await projector.get("/v1/catalogs")).json() == expected
        assert status["applied"] == status["target"] == written
        assert status["active_generation"] != before
        assert reads_during_rebuild >= 3
        # The new generation keeps consuming: a later change shows up.
        await produce_events(
            kafka_bootstrap, topics.product, [change("new", "c0", minute=9999, price="1")]
        )
        item = await eventually(
            lambda: _found(projector, "/v1/catalogs/c0/items/new"), timeout_s=30
        )
        assert item["current_price"] == "1.00"
    # A restart opens the rebuilt generation.
    assert generations.open_active().name == status["active_generation"]


async def _found(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    return response.json() if response.status_code == 200 else None


async def test_read_your_writes_waits_briefly_then_says_504(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = projector_settings(
        kafka_bootstrap, topics, tmp_path / "v.db", read_your_writes_max_wait_s=0.5
    )
    async with running_projector(settings) as projector:
        behind = await projector.get("/v1/catalogs", params={"min_position": "0:1000"})
        malformed = await projector.get("/v1/catalogs", params={"min_position": "soon"})
    assert behind.status_code == 504
    assert "0:1000" in behind.json()["detail"]
    assert malformed.status_code == 422


async def _read_events(
    client: httpx.AsyncClient, count: int, last_event_id: str | None
) -> list[dict[str, Any]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    received: list[dict[str, Any]] = []
    async with client.stream("GET", "/v1/changes/stream", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event["id"] = line[4:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and "id" in event:
                received.append(event)
                event = {}
                if len(received) == count:
                    break
    return received


async def test_change_stream_resumes_after_a_reconnect_with_every_change_once(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    first_batch = [change(f"s{n}", price="2") for n in range(5)]
    await produce_events(kafka_bootstrap, topics.product, first_batch)
    async with (
        serving_projector(settings, SqliteGenerations(tmp_path / "v.db")) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        before = await asyncio.wait_for(_read_events(client, 3, None), 30)
        # Disconnected; meanwhile more changes happen.
        await produce_events(
            kafka_bootstrap, topics.product, [change(f"s{n}", price="2") for n in range(5, 8)]
        )
        after = await asyncio.wait_for(_read_events(client, 5, before[-1]["id"]), 30)
    ids = [int(e["id"]) for e in before + after]
    assert ids == list(range(1, 9))  # every change once, in order, across the reconnect
    assert sorted(e["data"]["item_id"] for e in before + after) == [f"s{n}" for n in range(8)]


async def test_rebuild_command_reports_progress_and_the_result(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"r{n}", price="3") for n in range(50)]
    )
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with serving_projector(settings, SqliteGenerations(tmp_path / "v.db")) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            await caught_up(client, written, timeout_s=30)
        code, out, _ = await run_cli(
            "rebuild", "--projector", url, "--poll-s", "0.1",
            env={"CATALOG_PROJECTOR_ADMIN_TOKEN": ADMIN_TOKEN},
        )  # fmt: skip
    assert code == 0
    assert f"views rebuilt: {written} records" in out
    code, _, err = await run_cli("rebuild", "--projector", f"http://127.0.0.1:{free_port()}")
    assert code == 75
    assert "cannot reach the projector" in err
