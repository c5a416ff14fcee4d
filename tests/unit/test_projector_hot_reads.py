"""The plain ASGI item and page routes (projector.hot_reads) answer exactly as FastAPI's
documented routes do: the same status, headers and bytes for generated requests, valid or not,
and when the store fails; and they really take the valid ones (FastAPI's stack never sees them)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from catalog_contract.events import Availability
from projector.app import ReadApi, create_app
from projector.batch import plan_batch
from projector.errors import StoreUnavailable
from projector.generations import SqliteGenerations
from projector.records import Incoming
from projector.settings import ProjectorSettings
from tests.factories import change

ODD_NAMES = ["Enamel mug", "Tasse émaillée ☕", 'quote " and \\ back', "tab\tnew\nline", "50% off_"]


def fill(db: Path) -> None:
    """Items with every kind of value: prices, lists, times, odd text, missing fields."""
    store = SqliteGenerations(db).open_active()
    store.create()
    records = []
    for n in range(40):
        fields: dict[str, Any] = {"name": ODD_NAMES[n % len(ODD_NAMES)] + f" {n}"}
        if n % 3:
            fields["labels"] = ("a", "b ☕") if n % 2 else ("x",)
            fields["original_price"] = Decimal("599.9000")
        event = change(
            f"sku-{n:02d}",
            "42" if n % 4 else "7 x☕",
            minute=n,
            price=None if n % 5 == 0 else f"{n}.{n % 100:02d}",
            stock=[Availability.IN_STOCK, Availability.OUT_OF_STOCK, None][n % 3],
            **fields,
        )
        records.append(Incoming(0, n, event.catalog_id, event.catalog_item_id, event))
    store.write("t", plan_batch(records, {}, lambda _: None))
    store.close()


def fastapi_only(app: ReadApi) -> ReadApi:
    """The same app without the plain ASGI routes: what FastAPI alone answers."""
    app.hot_reads = None
    return app


def apps(db: Path, max_query_bytes: int = 65_536) -> tuple[ReadApi, ReadApi]:
    settings = ProjectorSettings(
        store_url=f"sqlite:///{db}",
        read_your_writes_max_wait_s=0.05,
        max_query_bytes=max_query_bytes,
    )
    hot = create_app(settings, SqliteGenerations(db), run_consumer=False)
    return hot, fastapi_only(create_app(settings, SqliteGenerations(db), run_consumer=False))


@asynccontextmanager
async def both(
    db: Path, max_query_bytes: int = 65_536
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    hot, plain = apps(db, max_query_bytes)
    async with hot.router.lifespan_context(hot), plain.router.lifespan_context(plain):
        for app in (hot, plain):  # the view has applied 0:0 .. 0:39; 0:40 makes a 504
            app.state.runtime.projector.applied = {0: 40}
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=hot), base_url="http://p") as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url="http://p") as b,
        ):
            yield a, b


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hot") / "views.db"
    fill(path)
    return path


# Each parameter's valid values, then values at and past what FastAPI accepts.
VALID = {
    "availability": ["IN_STOCK", "in_stock", "OutOfStock", "out_of_stock"],
    "min_price": ["10", "10.5", "0.0001", "99999999999999.9999"],
    "max_price": ["30", "30.25", "5", "300.0000"],
    "updated_since": ["2026-11-27T12:10:00Z", "2026-11-27t12:10:00.5+01:00"],
    "q": ["mug", "%", "_", "☕", "MUG 1", "x" * 200, ""],
    "cursor": ["sku-10", "sku-3", "", "~", "x" * 4096],
    "limit": ["1", "3", "50", "1000", "01"],
    "min_position": ["0:39", "0:0", "0:40", "1:0"],
}
ODD = {
    "availability": ["x" * 33, "", "UNKNOWN", "in stock"],
    "min_price": ["1e3", "+1", "0.00001", "999999999999999", "\u0661\u0660", "NaN", ""],
    "max_price": ["-1", " 5", "5.", ".5", "\uff15"],
    "updated_since": ["2026-11-27T12:10:00", "2026-11-27", "x" * 65, ""],
    "q": ["x" * 201],
    "cursor": ["x" * 4097],
    "limit": ["1001", "0", "+2", " 2", "2.0", "\u0663", "1_0", "", "99999", "1" * 5000],
    "min_position": ["0:", "\u00b2:0", "0:39\n", "0:39 ", "", f"0:{2**63}"],
    "other": ["1", ""],
}
PATHS = [
    "/v1/catalogs/42/items",
    "/v1/catalogs/7%20x%E2%98%95/items",
    "/v1/catalogs/9/items",
    "/v1/catalogs/42/items/sku-01",
    "/v1/catalogs/7 x☕/items/sku-00",
    "/v1/catalogs/42/items/none",
]
ODD_PATHS = [
    "/v1/catalogs/7%2Fx/items",  # a slash in the id: no route matches (404)
    "/v1/catalogs/42/items/",
    "/v1/catalogs//items/sku-01",
    "/v1/catalogs/42/items/sku-01/",
    "/v1/catalogs/42/items/a/b",
    "/v1/catalogs/42",
]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str]:
    """A method, a path and a raw query string: valid parameters, maybe one odd one (a listed
    edge or any text), maybe one sent twice."""
    method = draw(st.sampled_from(["GET"] * 8 + ["HEAD", "POST"]))
    path = draw(st.sampled_from(PATHS * 4 + ODD_PATHS))
    chosen = draw(
        st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALID.items()})
    )
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(ODD)))
        chosen[name] = draw(st.one_of(st.sampled_from(ODD[name]), st.text(max_size=5)))
    pairs = list(chosen.items())
    if pairs and draw(st.integers(0, 9)) == 0:
        pairs.append(draw(st.sampled_from(pairs)))
    pairs = draw(st.permutations(pairs))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    return method, f"{path}?{query}"


Clients = tuple[asyncio.Runner, httpx.AsyncClient, httpx.AsyncClient]


@pytest.fixture(scope="module")
def clients(db: Path) -> Iterator[Clients]:
    """Both apps once for all generated requests, on a loop of their own."""
    with asyncio.Runner() as runner:
        stack = contextlib.AsyncExitStack()
        hot, plain = runner.run(stack.enter_async_context(both(db)))
        try:
            yield runner, hot, plain
        finally:
            runner.run(stack.aclose())


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests())
def test_every_answer_is_fastapis_answer(clients: Clients, request: tuple[str, str]) -> None:
    method, url = request
    runner, hot, plain = clients
    a, b = runner.run(hot.request(method, url)), runner.run(plain.request(method, url))
    assert (a.status_code, a.headers.raw, a.content) == (b.status_code, b.headers.raw, b.content)


@pytest.mark.parametrize("path", ["/v1/catalogs/42/items", "/v1/catalogs/42/items/sku-01"])
def test_each_edge_value_is_answered_as_fastapi_does(clients: Clients, path: str) -> None:
    runner, hot, plain = clients
    for name, values in {**VALID, **ODD}.items():
        for value in values:
            for query in (f"{name}={quote(value)}", f"limit=2&{name}={quote(value)}&q=mug"):
                a = runner.run(hot.get(f"{path}?{query}"))
                b = runner.run(plain.get(f"{path}?{query}"))
                assert (a.status_code, a.headers.raw, a.content) == (
                    b.status_code,
                    b.headers.raw,
                    b.content,
                ), query


@pytest.mark.parametrize(
    "url",
    [
        "/v1/catalogs/42/items",
        "/v1/catalogs/42/items?availability=in_stock&min_price=1&max_price=30.5&limit=2",
        "/v1/catalogs/42/items?q=MUG&cursor=sku-10&updated_since=2026-11-27T12:10:00Z",
        "/v1/catalogs/42/items?limit=1000&min_position=0:39",
        "/v1/catalogs/7%20x%E2%98%95/items",
        "/v1/catalogs/42/items/sku-01",
        "/v1/catalogs/42/items/sku-01?min_position=0:39",
        "/v1/catalogs/42/items/none",  # 404
        "/v1/catalogs/42/items/sku-01?min_position=0:40",  # 504: the view never gets there
    ],
)
async def test_valid_requests_never_reach_fastapi(db: Path, url: str) -> None:
    """Answered by the plain routes alone, before FastAPI's middleware stack (which would fail
    the test), as FastAPI answers, freshness headers included."""
    async with both(db) as (hot, plain):
        expected = await plain.get(url)
        app = cast(ReadApi, hot._transport.app)  # type: ignore[attr-defined]

        async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
            raise AssertionError(f"FastAPI asked to answer {scope['path']}")

        app.middleware_stack = refuse
        answer = await hot.get(url)
        assert (answer.status_code, answer.headers.raw, answer.content) == (
            expected.status_code,
            expected.headers.raw,
            expected.content,
        )


@pytest.mark.parametrize(
    "url",
    [
        "/v1/catalogs/42/items?limit=2",
        "/v1/catalogs/42/items/sku-01",
        "/v1/catalogs/42/items/sku-01?min_position=0:39",
    ],
)
@pytest.mark.parametrize(
    ("failure", "status", "detail", "logged"),
    [
        # The database down or restarting: a retry later, not logged per request.
        (StoreUnavailable("view store query failed: the connection is lost"), 503,
         "the view store is unavailable; retry", []),
        (RuntimeError("a defect"), 500, "the request failed; it was logged",
         ["read API request failed"]),
    ],
)  # fmt: skip
async def test_a_failing_store_is_answered_as_fastapi_does(
    db: Path,
    url: str,
    failure: Exception,
    status: int,
    detail: str,
    logged: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The plain routes send nothing of their own when the store fails: FastAPI's route answers
    (a store that cannot be reached is a 503 with Retry-After; anything else is logged and
    answered the same 500 problem as for any route)."""

    def fail(*_: object) -> None:
        raise failure

    answers = []
    for app in apps(db):
        async with app.router.lifespan_context(app):
            app.state.runtime.projector.applied = {0: 40}
            app.state.runtime.store.item_row = app.state.runtime.store.item_rows = fail
            # As uvicorn: the app raises the failure after its 500 is sent, and the server logs it.
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://p") as client:
                caplog.clear()
                answers.append(await client.get(url))
                found = [r.message for r in caplog.records if r.name.startswith("projector")]
                assert found == logged
    a, b = answers
    assert a.status_code == status
    assert (a.status_code, a.headers.raw, a.content) == (b.status_code, b.headers.raw, b.content)
    assert a.json()["detail"] == detail
    assert a.headers.get("retry-after") == ("1" if status == 503 else None)


async def test_a_query_over_the_limit_is_refused_as_before(db: Path) -> None:
    """The plain routes leave a query string over max_query_bytes to FastAPI's 414."""
    async with both(db, max_query_bytes=1024) as (hot, plain):
        url = "/v1/catalogs/42/items/sku-01?min_position=0:" + "0" * 1021
        a, b = await hot.get(url), await plain.get(url)
        page = "/v1/catalogs/42/items?q=" + "x" * 200 + "&cursor=" + "y" * 900
        c, d = await hot.get(page), await plain.get(page)
    assert a.status_code == c.status_code == 414
    assert (a.status_code, a.headers.raw, a.content) == (b.status_code, b.headers.raw, b.content)
    assert (c.status_code, c.headers.raw, c.content) == (d.status_code, d.headers.raw, d.content)


async def test_a_page_is_found_and_paged(db: Path) -> None:
    """Not only refusals: the generated requests above compare real pages."""
    async with both(db) as (hot, _):
        first = (await hot.get("/v1/catalogs/42/items?limit=2")).json()
        assert [i["item_id"] for i in first["items"]] == ["sku-01", "sku-02"]
        assert first["next_cursor"] == "sku-02"
        item = (await hot.get("/v1/catalogs/42/items/sku-01")).json()
        assert item["labels"] == ["a", "b ☕"]
        assert item["current_price"] == "1.01"
        assert item["position"] == "0:1"


async def test_the_freshness_headers_follow_every_position_and_end(db: Path) -> None:
    """They are made again only when the positions differ: never stale."""
    async with both(db) as (hot, _):
        live = hot._transport.app.state.runtime.projector  # type: ignore[attr-defined]
        seen = []
        for applied, ends in [
            ({0: 40}, {}),
            ({0: 40}, {0: 45}),
            ({0: 40, 1: 7}, {0: 45, 1: 9}),
            ({0: 44, 1: 7}, {0: 45, 1: 9}),
            ({1: 7, 0: 44}, {1: 9, 0: 45}),  # the same, in another order
        ]:
            live.applied, live.end_offsets = applied, ends
            answer = await hot.get("/v1/catalogs/42/items/sku-01")
            seen.append((answer.headers["x-view-lag"], answer.headers["x-view-positions"]))
        live.applied[0] = 45  # changed in place, as the consumer does
        answer = await hot.get("/v1/catalogs/42/items/sku-01")
        seen.append((answer.headers["x-view-lag"], answer.headers["x-view-positions"]))
    assert seen == [
        ("0", "0:40"),
        ("5", "0:40"),
        ("7", "0:40,1:7"),
        ("3", "0:44,1:7"),
        ("3", "0:44,1:7"),
        ("2", "0:45,1:7"),
    ]


async def test_an_item_is_read_on_the_loop_only_while_nothing_is_applied_beside_it(
    db: Path,
) -> None:
    """Caught up: the SQLite lookup runs on the event loop's thread (cheaper than the hop).
    With records to apply (lag) or a rebuild running: in a worker thread, so the loop does not
    queue for the GIL behind their Python work. The answer is the same either way."""
    async with both(db) as (hot, _):
        runtime = hot._transport.app.state.runtime  # type: ignore[attr-defined]
        store = runtime.store
        looked_up_in: list[threading.Thread] = []
        item_row = store.item_row

        def spy(key: tuple[str, str]) -> object:
            looked_up_in.append(threading.current_thread())
            return item_row(key)

        store.item_row = spy
        answers = []
        for ends, rebuild in [
            ({}, "idle"),
            ({0: 41}, "idle"),
            ({0: 40}, "running"),
            ({0: 40}, "done"),
        ]:
            runtime.projector.end_offsets, runtime.rebuild_status.state = ends, rebuild
            answer = await hot.get("/v1/catalogs/42/items/sku-01")
            answers.append((answer.status_code, answer.content))
    loop_thread = threading.current_thread()
    assert [t is loop_thread for t in looked_up_in] == [True, False, False, True]
    assert answers[0][0] == 200
    assert len(set(answers)) == 1


async def test_readers_asking_at_once_share_one_hop_to_the_store_thread(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With records to apply, item reads leave the loop; the readers a batch wakes together (or
    any asking at once) share one worker-thread hop, not one each (each hop queued for the GIL
    against the consumer's thread: the largest step of freshness at 1,000 postbacks/s). Each
    still gets its own item's answer, the same as read alone."""
    async with both(db) as (hot, _):
        runtime = hot._transport.app.state.runtime  # type: ignore[attr-defined]
        paths = [f"/v1/catalogs/{42 if n % 4 else '7 x☕'}/items/sku-{n:02d}" for n in range(40)]
        paths.append("/v1/catalogs/42/items/no-such-item")
        alone = [(a.status_code, a.content) for a in [await hot.get(path) for path in paths]]

        hops = 0
        to_thread = asyncio.to_thread

        async def counted(work: Any, *args: Any) -> Any:
            nonlocal hops
            hops += 1
            return await to_thread(work, *args)

        monkeypatch.setattr(asyncio, "to_thread", counted)
        runtime.projector.end_offsets = {0: 41}  # lag: reads leave the loop
        together = await asyncio.gather(*(hot.get(path) for path in paths))
    assert [(a.status_code, a.content) for a in together] == alone
    assert alone[0][0] == 200
    assert alone[-1][0] == 404
    assert hops <= 2
