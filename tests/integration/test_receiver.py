"""The receiver through the real broker: every format, every refusal, secrets, duplicates."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from catalog_contract import codec, dead_letters, headers
from tests.support import (
    AUTH,
    SECRET,
    Topics,
    projector_settings,
    read_topic,
    receiver_settings,
    running_projector,
    running_receiver,
)

pytestmark = pytest.mark.broker
PATH = "/v1/postbacks/product-changes"

POINTS = {
    "CatalogId": "9",
    "CatalogItemId": "lamp-2",
    "Name": "Desk lamp",
    "Labels": "home,light",
    "CurrentPrice": "49.90",
    "OriginalPrice": "59.00",
    "StockAvailability": "LimitedAvailability",
    "DateLastUpdated": "2026-11-27T08:30:00Z",
}
XML = (
    "<postback>" + "".join(f"<{k}>{v}</{k}>" for k, v in POINTS.items()) + "</postback>"
).encode()


async def test_every_format_yields_the_same_avro_value_and_key(
    kafka_bootstrap: str, topics: Topics
) -> None:
    settings = receiver_settings(kafka_bootstrap, topics, recent_window_s=0)
    async with running_receiver(settings) as receiver:
        answers = [
            await receiver.post(PATH, json=POINTS, headers=AUTH),
            await receiver.post(PATH, data=POINTS, headers=AUTH),
            await receiver.post(
                PATH, content=XML, headers={**AUTH, "Content-Type": "application/xml"}
            ),
            await receiver.get(PATH, params=POINTS, headers=AUTH),
        ]
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert len({a.json()["event_id"] for a in answers}) == 1
    records = await read_topic(kafka_bootstrap, topics.product)
    assert len(records) == 4
    assert {r.key for r in records} == {b"9:lamp-2"}
    # Same bytes once the one field that must differ, the receive time, is made equal.
    first = codec.decode(records[0].value)
    normalised = {
        codec.encode(dataclasses.replace(codec.decode(r.value), received_at=first.received_at))
        for r in records
    }
    assert normalised == {records[0].value}


GOOD = {"CatalogId": "1", "CatalogItemId": "a", "CurrentPrice": "1.00"}
JSON_TYPE = {"Content-Type": "application/json"}


def _json(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, **changes}
    return {
        "content": json.dumps({k: v for k, v in body.items() if v is not None}),
        "headers": JSON_TYPE,
    }


# (case, request, expected status, text the answer must contain)
CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("bad decimal", _json(CurrentPrice="cheap"), 422, "CurrentPrice"),
    ("comma decimal", _json(CurrentPrice="12,99"), 422, "not a decimal price"),
    ("too many decimals", _json(CurrentPrice="1.23456"), 422, "more than 4 decimal places"),
    ("negative price", _json(OriginalPrice="-3.00"), 422, "OriginalPrice"),
    ("unknown availability", _json(StockAvailability="maybe"), 422, "unknown availability"),
    ("missing catalog id", _json(CatalogId=None), 422, "CatalogId"),
    ("missing item id", _json(CatalogItemId=None), 422, "CatalogItemId"),
    ("empty item id", _json(CatalogItemId=""), 422, "required but missing or empty"),
    ("separator in catalog id", _json(CatalogId="a:b"), 422, "may not contain"),
    ("bad date", _json(DateLastUpdated="yesterday"), 422, "ISO-8601"),
    ("discount out of range", _json(DiscountPercentage="150"), 422, "outside 0..100"),
    ("discount not a number", _json(DiscountPercentage="ten"), 422, "not an integer"),
    ("bad currency", _json(Currency="EURO"), 422, "ISO 4217"),
    ("unknown change type", _json(ChangeType="exploded"), 422, "unknown change type"),
    ("unfilled placeholder", _json(CurrentPrice="{CurrentPrice}"), 422, "CurrentPrice"),
    ("nested JSON value", {"content": '{"CatalogId": {"a": 1}}', "headers": JSON_TYPE}, 422, "'CatalogId'"),
    ("JSON array body", {"content": "[1, 2]", "headers": JSON_TYPE}, 400, "must be an object"),
    ("broken JSON", {"content": '{"CatalogId": ', "headers": JSON_TYPE}, 400, "not valid JSON"),
    ("broken XML", {"content": "<postback><CatalogId>1</postback>", "headers": {"Content-Type": "application/xml"}}, 400, "not well-formed XML"),
    (
        "XML entity bomb",
        {
            "content": '<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            "<postback><Name>&c;</Name></postback>",
            "headers": {"Content-Type": "application/xml"},
        },
        400,
        "DTDs and entities are not allowed",
    ),
    (
        "XML external entity",
        {
            "content": '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><p><Name>&x;</Name></p>',
            "headers": {"Content-Type": "text/xml"},
        },
        400,
        "DTDs and entities are not allowed",
    ),
    ("wrong content type", {"content": "CatalogId=1", "headers": {"Content-Type": "text/plain"}}, 415, "accepted: application/json"),
    ("no content type", {"content": b""}, 415, "unsupported content type"),
    ("oversized body", {"content": "x" * 300_000, "headers": JSON_TYPE}, 413, "exceeds 262144 bytes"),
    ("form not UTF-8", {"content": b"CatalogId=\xff", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400, "not UTF-8"),
    ("GET with bad price", {"method": "GET", "params": {**GOOD, "CurrentPrice": "free"}}, 422, "CurrentPrice"),
    ("several bad fields", _json(CurrentPrice="x", Currency="1", CatalogItemId=None), 422, "Currency"),
]  # fmt: skip
UNAUTHENTICATED: list[tuple[str, dict[str, Any], int, str]] = [
    ("wrong secret", {**_json(), "auth": {"X-Postback-Token": "guess"}}, 401, "X-Postback-Token"),
    ("missing secret", {**_json(), "auth": {}}, 401, "missing or wrong"),
    (
        "secret in the wrong header",
        {**_json(), "auth": {"X-Token": SECRET}},
        401,
        "X-Postback-Token",
    ),
]


async def _send(client: httpx.AsyncClient, request: dict[str, Any]) -> httpx.Response:
    headers = {**request.get("auth", AUTH), **request.get("headers", {})}
    return await client.request(
        request.get("method", "POST"),
        PATH,
        content=request.get("content"),
        params=request.get("params"),
        headers=headers,
    )


async def test_each_malformed_postback_gets_its_status_and_is_dead_lettered(
    kafka_bootstrap: str, topics: Topics
) -> None:
    assert len(CASES) + len(UNAUTHENTICATED) >= 25
    kept: dict[str, str] = {}
    async with running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver:
        for name, request, status, text in CASES + UNAUTHENTICATED:
            answer = await _send(receiver, request)
            assert answer.status_code == status, (name, answer.text)
            assert answer.headers["content-type"] == "application/problem+json", name
            assert text in answer.text, (name, answer.text)
            if status not in (401, 403):
                kept[answer.json()["request_id"]] = name
        still_working = await _send(receiver, _json())
        assert still_working.status_code == 200
    records = await read_topic(kafka_bootstrap, topics.dead_letter)
    assert all(SECRET.encode() not in r.value for r in records)
    letters = [dead_letters.decode(r.value) for r in records]
    assert {d.request_id for d in letters} == set(kept)
    several = next(d for d in letters if kept[d.request_id] == "several bad fields")
    assert [field for field, _ in several.problems] == ["CatalogItemId", "CurrentPrice", "Currency"]
    assert json.loads(several.body)["Currency"] == "1"
    assert [r.key for r in await read_topic(kafka_bootstrap, topics.product)] == [b"1:a"]


async def test_addresses_outside_the_allow_list_are_refused(
    kafka_bootstrap: str, topics: Topics
) -> None:
    settings = receiver_settings(
        kafka_bootstrap,
        topics,
        allowed_networks=["203.0.113.0/24"],
        trusted_proxies=["127.0.0.0/8"],
    )
    async with running_receiver(settings) as receiver:
        direct = await _send(
            receiver, _json()
        )  # the test client is 127.0.0.1: a proxy, not allowed
        forwarded = await _send(
            receiver, {**_json(), "headers": {**JSON_TYPE, "X-Forwarded-For": "203.0.113.5"}}
        )
        spoofed = await _send(
            receiver, {**_json(), "headers": {**JSON_TYPE, "X-Forwarded-For": "198.51.100.7"}}
        )
    assert (direct.status_code, forwarded.status_code, spoofed.status_code) == (403, 200, 403)


async def test_both_secrets_work_while_rotating(kafka_bootstrap: str, topics: Topics) -> None:
    settings = receiver_settings(
        kafka_bootstrap,
        topics,
        secrets=[SecretStr("old-secret-0123456789"), SecretStr("new-secret-0123456789")],
    )
    async with running_receiver(settings) as receiver:
        statuses = [
            (
                await _send(
                    receiver, {**_json(CatalogItemId=item), "auth": {"X-Postback-Token": token}}
                )
            ).status_code
            for item, token in (
                ("a", "old-secret-0123456789"),
                ("b", "new-secret-0123456789"),
                ("c", SECRET),
            )
        ]
    assert statuses == [200, 200, 401]


async def test_retried_duplicate_is_one_row_and_one_feed_entry(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = receiver_settings(kafka_bootstrap, topics, recent_window_s=0)  # both reach Kafka
    async with (
        running_receiver(settings) as receiver,
        running_projector(
            projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
        ) as projector,
    ):
        first = await receiver.post(PATH, json=POINTS, headers=AUTH)
        retry = await receiver.post(PATH, json=POINTS, headers=AUTH)
        assert first.json()["event_id"] == retry.json()["event_id"]
        assert first.json()["offset"] != retry.json()["offset"]
        item = await projector.get(
            "/v1/catalogs/9/items/lamp-2", params={"min_position": retry.json()["position"]}
        )
        feed = await projector.get("/v1/changes")
        metrics = await projector.get("/metrics")
    assert item.json()["revision"] == 1
    assert [c["kind"] for c in feed.json()["changes"]] == ["item_added"]
    assert 'projector_events_total{verdict="duplicate"} 1.0' in metrics.text


async def test_repeat_within_the_window_is_not_written_twice(
    kafka_bootstrap: str, topics: Topics
) -> None:
    async with running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver:
        first = await receiver.post(PATH, json=POINTS, headers=AUTH)
        retry = await receiver.post(PATH, json=POINTS, headers=AUTH)
        metrics = await receiver.get("/metrics")
    assert first.json() == retry.json()
    assert len(await read_topic(kafka_bootstrap, topics.product)) == 1
    assert "receiver_duplicates_dropped_total 1.0" in metrics.text


async def test_a_repeat_after_a_newer_change_of_the_product_is_written_again(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    # Defect 2: removed, re-added, then the same removal again within the window (no
    # DateLastUpdated): the window answered it from memory and the item stayed live.
    ids = {"CatalogId": "9", "CatalogItemId": "lamp-2"}
    removal = {**ids, "ChangeType": "removed"}
    readd = {**ids, "Name": "Desk lamp", "CurrentPrice": "49.90"}
    async with (
        running_receiver(receiver_settings(kafka_bootstrap, topics)) as receiver,
        running_projector(
            projector_settings(kafka_bootstrap, topics, tmp_path / "v.db")
        ) as projector,
    ):
        answers = [
            (await receiver.post(PATH, json=body, headers=AUTH)).json()
            for body in (removal, readd, removal)
        ]
        assert answers[0]["event_id"] == answers[2]["event_id"]
        assert answers[2]["offset"] > answers[1]["offset"]  # written again, after the re-add
        repeat = await receiver.post(PATH, json=removal, headers=AUTH)  # nothing newer since
        assert repeat.json() == answers[2]
        item = await projector.get(
            "/v1/catalogs/9/items/lamp-2", params={"min_position": answers[2]["position"]}
        )
    assert item.status_code == 404
    # The receiver wrote 2 + 1 + 2 records, not the repeat. The projector may add its own
    # restatement of the untimed re-add (when it read that as a batch's last record): not ours.
    written = await read_topic(kafka_bootstrap, topics.product)
    ours = [r for r in written if all(name != headers.RESTATES for name, _ in r.headers or ())]
    assert len(ours) == 5
