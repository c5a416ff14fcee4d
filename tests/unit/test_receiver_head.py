"""HEAD wherever the receiver answers GET without changing anything: the GET's status and
headers, no body; a 405's `Allow` lists HEAD there. FastAPI's routes answer only the methods
they name, so every HEAD was a 405 (as the projector's were, fixed in ef41410). The postback
path's GET publishes a postback, so a HEAD there is not run as it (HEAD is safe)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from receiver.app import PATH
from tests.receiver_harness import AUTH, recording_app

SAME_EVERY_TIME = {"/metrics": "content-length"}  # the scrape counts the GET just made


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"])
async def test_head_answers_the_gets_status_and_headers_without_a_body(path: str) -> None:
    app, _ = recording_app()
    async with _client(app) as client:
        got = await client.get(path)
        head = await client.head(path)
    assert got.status_code == 200
    assert head.status_code == 200, head.text
    assert head.content == b""
    expected, found = dict(got.headers), dict(head.headers)
    for varying in SAME_EVERY_TIME.get(path, "").split():
        expected.pop(varying), found.pop(varying)
    assert found == expected


@pytest.mark.parametrize(
    ("method", "path", "status", "header", "value"),
    [
        ("HEAD", "/nowhere", 404, "content-type", "application/problem+json"),  # the GET's 404
        ("POST", "/healthz", 405, "allow", "GET, HEAD"),  # a 405 allows HEAD where GET is
    ],
)
async def test_routing_answers_name_head_as_they_do_get(
    method: str, path: str, status: int, header: str, value: str
) -> None:
    app, _ = recording_app()
    async with _client(app) as client:
        answer = await client.request(method, path)
    assert (answer.status_code, answer.headers[header]) == (status, value)
    if method == "HEAD":
        assert answer.content == b""


async def test_head_on_the_postback_path_publishes_nothing_and_is_a_405() -> None:
    app, publisher = recording_app()
    async with _client(app) as client:
        token = {AUTH[0].decode(): AUTH[1].decode()}
        get = await client.get(PATH + "?CatalogId=1&CatalogItemId=a", headers=token)
        answer = await client.head(PATH + "?CatalogId=1&CatalogItemId=b", headers=token)
        document = (await client.get("/openapi.json")).json()
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert get.status_code == 200
    assert len(publisher.published) == 1  # the GET's only
    assert "head" not in str([sorted(ops) for ops in document["paths"].values()])
