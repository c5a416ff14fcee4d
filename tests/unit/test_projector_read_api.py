"""The projector's read API against hostile and awkward requests (no broker: the consumer is not
started; the views are written straight into the store)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr, ValidationError

from catalog_stream.ports import free_port
from projector.app import create_app
from projector.batch import plan_batch
from projector.generations import SqliteGenerations
from projector.main import server_config
from projector.records import Incoming
from projector.settings import ProjectorSettings
from projector.store import ViewStore
from tests.factories import change
from tests.support import ADMIN, ADMIN_TOKEN

PROBLEM = "application/problem+json"


def settings_for(db: Path, **overrides: Any) -> ProjectorSettings:
    values: dict[str, Any] = {
        "store_url": f"sqlite:///{db}",
        "admin_token": SecretStr(ADMIN_TOKEN),
        **overrides,
    }
    return ProjectorSettings(**values)


def write_items(store: ViewStore, names: dict[tuple[str, str], str]) -> None:
    """Each (catalog, item) with its name, as one batch on partition 0 (one `item_added` each)."""
    records = [
        Incoming(0, offset, catalog, item, change(item, catalog, price="5", name=name))
        for offset, ((catalog, item), name) in enumerate(names.items())
    ]
    applied = store.positions("t")
    store.write("t", plan_batch(records, {0: applied.get(0, 0)} if applied else {}, lambda _: None))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "views.db"


@pytest.fixture
async def client(db: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with api(settings_for(db)) as found:
        yield found


@asynccontextmanager
async def api(
    settings: ProjectorSettings, names: dict[tuple[str, str], str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (lifespan run, consumer not started), its store filled beforehand."""
    path = settings.sqlite_path()
    assert path is not None
    store = SqliteGenerations(path).open_active()
    store.create()
    write_items(store, names or {("42", "sku-1"): "Enamel mug"})
    store.close()
    app = create_app(settings, SqliteGenerations(path), run_consumer=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://projector") as client:
            yield client


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    if field is not None:
        assert field in body["detail"]
        assert field in [e["field"] for e in body["errors"]]


ITEMS = "/v1/catalogs/42/items"


@pytest.mark.timeout(60)
async def test_a_huge_exponent_price_is_refused_at_once(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    answer = await client.get(ITEMS, params={"min_price": "1e999995"})
    assert_problem(answer, 422, "min_price")
    assert time.perf_counter() - started < 2  # it was ~90 s of int(Decimal) on the event loop


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "NaN"}, "min_price"),
        ({"max_price": "sNaN"}, "max_price"),
        ({"max_price": "-Infinity"}, "max_price"),
        ({"updated_since": "2026-11-27T12:00:00"}, "updated_since"),
        ({"updated_since": "not a time"}, "updated_since"),
        ({"min_position": "²:0"}, "min_position"),
        ({"min_position": f"0:{2**63}"}, "min_position"),
        ({"availability": "plenty"}, "availability"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1" * 4000}, "limit"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_item_parameters_are_refused_with_a_problem_naming_them(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    assert_problem(await client.get(ITEMS, params=params), 422, field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": str(2**63)}, "after"),
        ({"after": "-1"}, "after"),
        ({"type": "everything"}, "type"),
        ({"limit": "1001"}, "limit"),
    ],
)
async def test_feed_parameters_are_refused_with_a_problem_naming_them(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    assert_problem(await client.get("/v1/changes", params=params), 422, field)


async def test_a_time_with_a_zone_filters(client: httpx.AsyncClient) -> None:
    later = await client.get(ITEMS, params={"updated_since": "2030-01-01T00:00:00+02:00"})
    earlier = await client.get(ITEMS, params={"updated_since": "2020-01-01T00:00:00Z"})
    assert later.json()["items"] == []
    assert [i["item_id"] for i in earlier.json()["items"]] == ["sku-1"]


async def test_an_overlong_query_string_is_refused_before_parsing(db: Path) -> None:
    async with api(settings_for(db, max_query_bytes=1024)) as client:
        assert (await client.get(ITEMS + "?q=" + "x" * 200 + "&a" * 400)).status_code == 200
        assert_problem(await client.get(ITEMS + "?" + "a&" * 600), 414)


async def test_not_found_is_a_problem_document(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/catalogs/none"), 404)
    assert_problem(await client.get("/v1/catalogs/42/items/none"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("DELETE", "/v1/admin/rebuild", "GET, HEAD, POST"), ("POST", "/v1/catalogs", "GET, HEAD")],
)
async def test_a_405_allows_every_method_the_path_answers(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    """Found by the stop-24 attack: a path with a GET and a POST route (the rebuild) answered
    405 with Starlette's `Allow` of the first route only, `POST` (RFC 9110 15.5.6)."""
    answer = await client.request(method, path)
    assert_problem(answer, 405)
    assert answer.headers["allow"] == allow


async def test_like_wildcards_in_q_match_only_themselves(db: Path) -> None:
    names = {("42", "a"): "50% off mug", ("42", "b"): "500 off mug", ("42", "c"): "big_mug",
             ("42", "d"): "big mug", ("42", "e"): "back\\slash"}  # fmt: skip
    async with api(settings_for(db), names) as client:

        async def found(q: str) -> list[str]:
            answer = await client.get(ITEMS, params={"q": q})
            return [i["item_id"] for i in answer.json()["items"]]

        assert await found("50%") == ["a"]
        assert await found("g_m") == ["c"]
        assert await found("k\\s") == ["e"]
        assert await found("MUG") == ["a", "b", "c", "d"]


async def test_catalogs_are_paged_like_items(db: Path) -> None:
    names = {(f"c{n}", "x"): "thing" for n in range(5)}
    async with api(settings_for(db), names) as client:
        pages: list[list[str]] = []
        cursor: str | None = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            body = (await client.get("/v1/catalogs", params=params)).json()
            pages.append([c["catalog_id"] for c in body["catalogs"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
    assert pages == [["c0", "c1"], ["c2", "c3"], ["c4"]]


# --- admin -----------------------------------------------------------------------------------


async def test_admin_endpoints_need_the_admin_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": f"Basic {ADMIN_TOKEN}"}):  # fmt: skip
        assert_problem(await client.post("/v1/admin/rebuild", headers=headers), 401)
        assert_problem(await client.get("/v1/admin/rebuild", headers=headers), 401)
    answer = await client.get("/v1/admin/rebuild", headers=ADMIN)
    assert answer.status_code == 200
    assert answer.json()["state"] == "idle"


async def test_admin_endpoints_are_off_without_a_configured_token(db: Path) -> None:
    async with api(settings_for(db, admin_token=None)) as client:
        assert_problem(await client.post("/v1/admin/rebuild", headers=ADMIN), 403)


@pytest.mark.parametrize("token", ["", "short", "é" * 7])
def test_an_empty_or_short_admin_token_is_refused_at_start_without_echoing_it(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CATALOG_PROJECTOR_ADMIN_TOKEN", token)
    with pytest.raises(ValidationError, match="at least 16 bytes") as refused:
        ProjectorSettings()
    if token:
        assert token not in str(refused.value)


def test_the_admin_token_never_shows_in_the_settings_repr() -> None:
    assert ADMIN_TOKEN not in repr(settings_for(Path("x.db")))


# --- the change feed -------------------------------------------------------------------------


async def test_the_feed_is_pruned_to_its_retention_and_says_410_to_a_reader_left_behind(
    db: Path,
) -> None:
    names = {("42", f"i{n}"): "thing" for n in range(5)}  # five item_added changes, seq 1..5
    settings = settings_for(db, changes_retain=2, changes_prune_interval_s=0.05)
    async with api(settings, names) as client:
        deadline = time.monotonic() + 20
        while len((await client.get("/v1/changes")).json()["changes"]) != 2:
            assert time.monotonic() < deadline, "feed not pruned"
            await asyncio.sleep(0.05)
        kept = (await client.get("/v1/changes")).json()["changes"]
        assert [c["seq"] for c in kept] == [4, 5]
        assert_problem(await client.get("/v1/changes", params={"after": "1"}), 410)
        assert (await client.get("/v1/changes", params={"after": "3"})).status_code == 200


async def test_a_rare_type_moves_the_readers_position_past_what_was_searched(
    client: httpx.AsyncClient,
) -> None:
    answer = (await client.get("/v1/changes", params={"type": "price_drop"})).json()
    assert answer["changes"] == []
    assert answer["next_after"] == 1  # past the one item_added: not searched again next time


def test_a_rare_kind_page_says_how_far_it_looked(tmp_path: Path) -> None:
    store = SqliteGenerations(tmp_path / "v.db").open_active()
    store.create()
    write_items(store, {("42", f"i{n}"): "thing" for n in range(300)})
    page = store.feed_page(0, ["price_drop"], 500)
    assert (page.changes, page.scanned_to, page.first_seq) == ([], 300, 1)
    full = store.feed_page(0, [], 100)  # a full page: continue after its last change
    assert (len(full.changes), full.scanned_to) == (100, 100)
    store.close()


# --- change streams (a real HTTP server: streams need one) -----------------------------------


@asynccontextmanager
async def served(
    settings: ProjectorSettings, names: dict[tuple[str, str], str] | None = None
) -> AsyncIterator[str]:
    """The app behind the projector's own server (its protocol: header and write deadlines),
    its store filled beforehand (`names` as in write_items), the consumer not started."""
    path = settings.sqlite_path()
    assert path is not None
    store = SqliteGenerations(path).open_active()
    store.create()
    write_items(store, names or {("42", "sku-1"): "Enamel mug"})
    store.close()
    app = create_app(settings, SqliteGenerations(path), run_consumer=False)
    config = server_config(settings.model_copy(update={"port": free_port()}), app)
    config.timeout_graceful_shutdown = 2  # open streams end only when their clients leave
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await task


async def first_event(lines: AsyncIterator[str]) -> str:
    """The next event's id. The caller keeps `lines` (one `aiter_lines()` per stream) until the
    stream closes: a line iterator dropped mid-stream is finalized, which closes the stream."""
    async for line in lines:
        if line.startswith("id: "):
            return line[4:]
    raise AssertionError("stream ended without an event")


async def test_streams_past_the_cap_get_503_with_retry_after_and_a_closed_one_frees_its_slot(
    db: Path,
) -> None:
    settings = settings_for(db, stream_max=2, stream_retry_after_s=7)
    async with served(settings) as url, httpx.AsyncClient(base_url=url, timeout=20) as client:
        async with (
            client.stream("GET", "/v1/changes/stream") as one,
            client.stream("GET", "/v1/changes/stream") as two,
        ):
            one_lines, two_lines = one.aiter_lines(), two.aiter_lines()
            assert [await first_event(one_lines), await first_event(two_lines)] == ["1", "1"]
            refused = await client.get("/v1/changes/stream")
            assert_problem(refused, 503)
            assert refused.headers["retry-after"] == "7"
        # Both closed: their slots come back (the server notices the disconnect on its next wake).
        deadline = time.monotonic() + 30
        while True:
            async with client.stream("GET", "/v1/changes/stream") as again:
                if again.status_code == 200:
                    again_lines = again.aiter_lines()
                    assert await first_event(again_lines) == "1"
                    break
            assert time.monotonic() < deadline, "a closed stream kept its slot"
            await asyncio.sleep(0.2)


async def test_a_stream_refuses_a_bad_last_event_id(db: Path) -> None:
    async with served(settings_for(db)) as url, httpx.AsyncClient(base_url=url) as client:
        for bad in (str(2**63).encode(), b"x" * 21, b"-1", "\u0661".encode()):
            answer = await client.get("/v1/changes/stream", headers={b"Last-Event-ID": bad})
            assert_problem(answer, 422)
            assert "last-event-id" in answer.json()["detail"].lower()
