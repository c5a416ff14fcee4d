"""The change stream's events, read from a real stream by a parser that follows the WHATWG
event-stream format, validate against what the projector's OpenAPI document says of them.
Found by the stop-24 attack: the document said only `{"type": "string"}` for the whole
`text/event-stream` body, while what a client parses is events with an `id`, an `event` and
JSON `data` of its own shape; nothing held the two together."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from catalog_contract.events import Availability, ChangeType
from projector.generations import SqliteGenerations
from tests.factories import change
from tests.support import Topics, produce_events, projector_settings, serving_projector

pytestmark = pytest.mark.broker

EVENTS = "/paths/~1v1~1changes~1stream/get/responses/200/content/text~1event-stream/itemSchema"


async def parsed_events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, str]]:
    """Each event as the WHATWG algorithm dispatches it, as the fields its block set: comments
    (`:` lines) and blocks without data are no events; one space after the colon is dropped;
    `data` lines are joined with newlines."""
    fields: dict[str, str] = {}
    async for line in lines:
        if line == "":
            if "data" in fields:
                yield fields
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            fields["data"] = f"{fields['data']}\n{value}" if "data" in fields else value
        else:
            fields[name] = value


def validators(document: dict[str, Any]) -> tuple[Draft202012Validator, Draft202012Validator]:
    """The event's schema and its data's (contentSchema is an annotation only in JSON Schema:
    checked here explicitly), with the document's `$ref`s resolved."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    event = Draft202012Validator({"$ref": f"urn:openapi#{EVENTS}"}, registry=registry)
    data_ref = f"urn:openapi#{EVENTS}/properties/data/contentSchema"
    return event, Draft202012Validator({"$ref": data_ref}, registry=registry)


async def test_stream_events_as_parsed_match_the_documented_event_schema(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    steps = [  # one item through every kind of change, in one catalog
        change("s1", "c1", minute=1, price="10", stock=Availability.IN_STOCK),  # item_added
        change("s1", "c1", minute=2, price="8", stock=Availability.IN_STOCK),  # price_drop
        change("s1", "c1", minute=3, price="9", stock=Availability.IN_STOCK),  # price_rise
        change("s1", "c1", minute=4, price="9", stock=Availability.OUT_OF_STOCK),
        change("s1", "c1", minute=5, price="9", stock=Availability.IN_STOCK),  # back_in_stock
        change("s1", "c1", minute=6, kind=ChangeType.REMOVED),  # item_removed
    ]
    await produce_events(kafka_bootstrap, topics.product, steps)
    settings = projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
    async with (
        serving_projector(settings, SqliteGenerations(tmp_path / "v.db")) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        document = (await client.get("/openapi.json")).json()
        event_schema, data_schema = validators(document)
        received: list[dict[str, str]] = []

        async def read_six() -> None:
            async with client.stream("GET", "/v1/changes/stream") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                async for event in parsed_events(response.aiter_lines()):
                    received.append(event)
                    if len(received) == len(steps):
                        return

        await asyncio.wait_for(read_six(), 60)
        page = (await client.get("/v1/changes")).json()["changes"]
    change_schema = document["components"]["schemas"]["Change"]
    for event in received:
        event_schema.validate(event)
        data = json.loads(event["data"])
        data_schema.validate(data)
        assert set(data) == set(change_schema["properties"]), data  # every field documented
        assert (event["id"], event["event"]) == (str(data["seq"]), data["kind"])
    assert [json.loads(e["data"]) for e in received] == page  # the same changes as the pages
    assert [e["event"] for e in received] == [
        "item_added", "price_drop", "price_rise", "out_of_stock", "back_in_stock", "item_removed",
    ]  # fmt: skip
