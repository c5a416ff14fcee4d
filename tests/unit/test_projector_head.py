"""HEAD wherever the projector answers GET: the GET's status and headers, no body; a 405's
`Allow` lists HEAD where GET is. Found by the stop-24 attack: FastAPI's routes answer only the
methods they name, so every HEAD was a 405 (no broker: the consumer is not started)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support import ADMIN
from tests.unit.test_projector_read_api import api, assert_problem, served, settings_for


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "views.db"


# Every path the app answers GET on (the OpenAPI document's, checked below to be all of them,
# and the documentation's own), with a few refusals: a HEAD gets the GET's status.
GETS = [
    "/v1/catalogs",
    "/v1/catalogs?limit=1",
    "/v1/catalogs/42",
    "/v1/catalogs/none",  # 404
    "/v1/catalogs/42/items",  # the hot routes (hot_reads.py) ...
    "/v1/catalogs/42/items?limit=1&q=mug",
    "/v1/catalogs/42/items/sku-1",
    "/v1/catalogs/42/items/none",  # ... 404
    "/v1/catalogs/42/items?limit=0",  # 422
    "/v1/changes",
    "/v1/changes?after=x",  # 422
    "/v1/catalogs/42/delivery",
    "/v1/delivery",
    "/healthz",
    "/readyz",
    "/v1/admin/rebuild",
    "/",
    "/openapi.json",
    "/docs",
]
SAME_EVERY_TIME = {"/metrics": "content-length"}  # the scrape counts the GET just made


async def test_head_answers_the_gets_status_and_headers_without_a_body(db: Path) -> None:
    async with api(settings_for(db)) as client:
        document = (await client.get("/openapi.json")).json()
        documented = {
            path.replace("{catalog_id}", "42").replace("{item_id}", "sku-1")
            for path, operations in document["paths"].items()
            if "get" in operations
        }
        assert "head" not in str([sorted(ops) for ops in document["paths"].values()])
        assert documented - {"/v1/changes/stream"} <= {p.split("?")[0] for p in GETS} | {"/metrics"}
        for path in [*GETS, "/metrics"]:
            headers = ADMIN if path.startswith("/v1/admin/") else None
            got = await client.get(path, headers=headers)
            head = await client.head(path, headers=headers)
            assert head.status_code == got.status_code, (path, head.status_code, head.text)
            assert head.content == b"", path
            expected = dict(got.headers)
            found = dict(head.headers)
            for varying in SAME_EVERY_TIME.get(path, "").split():
                expected.pop(varying), found.pop(varying)
            assert found == expected, path
        assert (await client.get("/v1/catalogs/42/items/sku-1")).json()["name"] == "Enamel mug"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/admin/rebuild", "GET, HEAD, POST"),
        ("POST", "/v1/catalogs", "GET, HEAD"),
        ("PUT", "/v1/changes/stream", "GET, HEAD"),
    ],
)
async def test_a_405_allows_head_where_get_is_answered(
    db: Path, method: str, path: str, allow: str
) -> None:
    async with api(settings_for(db)) as client:
        answer = await client.request(method, path)
        assert_problem(answer, 405)
        assert answer.headers["allow"] == allow
        # HEAD where only POST is answered stays a 405 (the GET's answer, as the HEAD's).
        refused = await client.head("/v1/admin/nowhere")
        assert refused.status_code == 404


@pytest.mark.timeout(60)
async def test_head_on_the_change_stream_ends_after_its_headers_and_frees_its_slot(
    db: Path,
) -> None:
    """The stream never ends by itself: a HEAD that ran it as a GET and only dropped the body
    would never end either, holding one of the CATALOG_PROJECTOR_STREAM_MAX slots."""
    async with (
        served(settings_for(db, stream_max=1)) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as client,
    ):
        for _ in range(3):  # one slot: each HEAD must have given it back
            started = time.monotonic()
            head = await client.head("/v1/changes/stream")
            assert head.status_code == 200, head.text
            assert head.headers["content-type"].startswith("text/event-stream")
            assert head.content == b""
            assert time.monotonic() - started < 10  # a wake of the stream is 15 s
        async with client.stream("GET", "/v1/changes/stream") as stream:
            assert stream.status_code == 200


@pytest.mark.timeout(60)
async def test_head_on_a_change_stream_with_nothing_new_answers_at_once(db: Path) -> None:
    """Stop-33 attack: a HEAD of the stream from its newest change waited for the stream's first
    body message, its keep-alive 15 s later, before it answered (the headers are known once the
    GET sends them). The HEAD must answer within a bound well under that wake, and give its slot
    back (one slot: the GET after it is served)."""
    async with (
        served(settings_for(db, stream_max=1)) as url,
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=5)) as client,
    ):
        newest = (await client.get("/v1/changes")).json()["next_after"]
        assert newest > 0
        for ask in ({"params": {"after": newest}}, {"headers": {"last-event-id": str(newest)}}):
            head = await client.head("/v1/changes/stream", **ask)
            assert head.status_code == 200, head.text
            assert head.headers["content-type"].startswith("text/event-stream")
            assert head.content == b""
        async with client.stream("GET", "/v1/changes/stream", params={"after": newest}) as stream:
            assert stream.status_code == 200
