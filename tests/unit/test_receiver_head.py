"""HEAD wherever the receiver answers GET without changing anything: the GET's status and
headers, no body; a 405's `Allow` lists HEAD there. FastAPI's routes answer only the methods
they name, so every HEAD was a 405 (as the projector's were, fixed in ef41410). The postback
path's GET publishes a postback, so a HEAD there is not run as it (HEAD is safe)."""

from __future__ import annotations

import httpx
import pytest

from receiver.app import PATH
from tests.receiver_harness import AUTH, recording_app

SAME_EVERY_TIME = {"/metrics": "content-length"}  # the scrape counts the GET just made


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"])
async def test_head_answers_the_gets_status_and_headers_without_a_body(path: str) -> None:
    app, _ = recording_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        got = await client.get(path)
        head = await client.head(path)
    assert got.status_code == 200
    assert head.status_code == 200, head.text
    assert head.content == b""
    expected, found = dict(got.headers), dict(head.headers)
    for varying in SAME_EVERY_TIME.get(path, "").split():
        expected.pop(varying), found.pop(varying)
    assert found == expected


async def test_head_of_an_unknown_path_is_the_gets_404() -> None:
    app, _ = recording_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        head = await client.head("/nowhere")
    assert head.status_code == 404
    assert head.headers["content-type"] == "application/problem+json"
    assert head.content == b""


async def test_a_405_allows_head_where_get_is_answered() -> None:
    app, _ = recording_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        answer = await client.post("/healthz")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"


async def test_head_on_the_postback_path_publishes_nothing_and_is_a_405() -> None:
    app, publisher = recording_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        token = {AUTH[0].decode(): AUTH[1].decode()}
        get = await client.get(PATH + "?CatalogId=1&CatalogItemId=a", headers=token)
        answer = await client.head(PATH + "?CatalogId=1&CatalogItemId=b", headers=token)
        document = (await client.get("/openapi.json")).json()
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert get.status_code == 200
    assert len(publisher.published) == 1  # the GET's only
    assert "head" not in str([sorted(ops) for ops in document["paths"].values()])
