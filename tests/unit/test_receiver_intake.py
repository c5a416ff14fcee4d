"""The postback flow's status table, driven through `Intake` itself (no app, no broker): a
recording publisher keeps what would have gone to Kafka, so each answer is checked with what was
published or dead-lettered for it."""

from __future__ import annotations

import json
import uuid
from ipaddress import ip_network
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog_contract import codec
from catalog_contract.keys import product_key
from receiver.answers import accepted_body, kafka_unavailable
from receiver.errors import PublishFailed
from receiver.intake_flow import Intake
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Acknowledged
from receiver.recent import LastWrites
from receiver.refusals import Refusals
from tests.receiver_harness import Answer, RecordingPublisher, call, recording_app, settings

GOOD = {"CatalogId": "7", "CatalogItemId": "chair-1", "CurrentPrice": "10.00"}
PROBLEM_JSON = "application/problem+json"
TYPES = "https://catalog-stream.dev/problems/"


def _intake(**overrides: Any) -> tuple[ASGIApp, RecordingPublisher, ReceiverMetrics]:
    """The flow alone, as the ASGI callable the harness drives (app.py's routes do the same)."""
    config = settings(**overrides)
    publisher = RecordingPublisher(config)
    metrics = ReceiverMetrics()
    unavailable = kafka_unavailable(metrics, config.retry_after_s)
    refusals = Refusals(config, publisher, metrics, unavailable)
    recent = LastWrites(config.recent_window_s, 100)
    intake = Intake(config, publisher, metrics, recent, refusals, unavailable)

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        answer = await intake.handle(Request(scope, receive))
        await answer(scope, receive, send)

    return asgi, publisher, metrics


async def _post(
    flow: ASGIApp, body: bytes, content_type: str = "application/json", **how: Any
) -> Answer:
    return await call(flow, "POST", body=body, content_type=content_type, **how)


def _problem(answer: Answer, status: int, slug: str) -> dict[str, Any]:
    assert answer.status == status
    assert answer.content_type == PROBLEM_JSON
    document: dict[str, Any] = answer.json()
    assert document["type"] == TYPES + slug
    assert document["status"] == status
    return document


def _count(metrics: ReceiverMetrics, outcome: str) -> float:
    found = metrics.registry.get_sample_value("receiver_requests_total", {"outcome": outcome})
    return found or 0.0


async def test_200_only_with_the_event_published_under_its_product_key() -> None:
    flow, publisher, metrics = _intake()
    answer = await _post(flow, json.dumps(GOOD).encode())
    assert answer.status == 200
    assert answer.content_type == "application/json"
    [event] = publisher.events()
    assert event.key == product_key("7", "chair-1")
    change = codec.decode(event.values[0] or b"")
    assert (change.catalog_id, change.catalog_item_id) == ("7", "chair-1")
    assert answer.json() == {
        "event_id": str(change.event_id),
        "topic": "catalog.product-changes.v1",
        "partition": 0,
        "offset": 1,
        "position": "0:1",
    }
    assert publisher.dead_letters() == []
    assert _count(metrics, "accepted") == 1


async def test_401_without_the_credential_keeps_nothing() -> None:
    flow, publisher, metrics = _intake()
    answer = await _post(flow, json.dumps(GOOD).encode(), authenticated=False)
    document = _problem(answer, 401, "unauthorized")
    assert document["detail"] == "missing or wrong X-Postback-Token header"
    assert publisher.published == []
    assert _count(metrics, "unauthorized") == 1


async def test_403_from_an_address_not_allowed_keeps_nothing() -> None:
    flow, publisher, metrics = _intake(allowed_networks=[ip_network("10.0.0.0/8")])
    answer = await _post(flow, json.dumps(GOOD).encode(), client=("203.0.113.9", 40000))
    document = _problem(answer, 403, "forbidden-address")
    assert document["detail"] == "203.0.113.9 is not allowed"
    assert publisher.published == []
    assert _count(metrics, "forbidden") == 1


async def test_413_keeps_the_first_bytes_in_the_dead_letter_topic() -> None:
    flow, publisher, _ = _intake(max_body_bytes=1024)
    body = b'{"CatalogId": "' + b"7" * 2000 + b'"}'
    document = _problem(await _post(flow, body), 413, "body-too-large")
    assert document["detail"] == "body exceeds 1024 bytes"
    [letter] = publisher.dead_letters()
    assert (letter.status, letter.kind, letter.body_length) == (413, "body-too-large", len(body))
    assert letter.truncated
    assert document["request_id"] == letter.request_id
    assert publisher.events() == []


async def test_415_names_the_type_and_keeps_the_body() -> None:
    flow, publisher, _ = _intake()
    answer = await _post(flow, b"CatalogId 7", content_type="text/plain")
    document = _problem(answer, 415, "unsupported-media-type")
    assert "text/plain" in document["detail"]
    [letter] = publisher.dead_letters()
    assert (letter.status, letter.kind) == (415, "unsupported-media-type")
    assert letter.body == b"CatalogId 7"
    assert publisher.events() == []


async def test_422_names_each_field_and_keeps_the_postback() -> None:
    flow, publisher, metrics = _intake()
    body = json.dumps({"CatalogId": "7", "CurrentPrice": "ten"}).encode()
    document = _problem(await _post(flow, body), 422, "invalid-postback")
    fields = {error["field"] for error in document["errors"]}
    assert fields == {"CatalogItemId", "CurrentPrice"}
    assert all(error["reason"] for error in document["errors"])
    [letter] = publisher.dead_letters()
    assert (letter.status, letter.kind, letter.body) == (422, "invalid-postback", body)
    assert {field for field, _ in letter.problems} == fields
    assert publisher.events() == []
    assert _count(metrics, "invalid-postback") == 1


async def test_503_when_kafka_does_not_acknowledge_and_nothing_is_answered_200() -> None:
    flow, publisher, metrics = _intake(retry_after_s=7)
    publisher.failure = PublishFailed("Kafka did not acknowledge within 10s")
    answer = await _post(flow, json.dumps(GOOD).encode())
    document = _problem(answer, 503, "kafka-unavailable")
    assert document["detail"] == "Kafka did not acknowledge within 10s"
    assert answer.headers[b"retry-after"] == b"7"
    assert publisher.published == []
    assert (_count(metrics, "unavailable"), _count(metrics, "accepted")) == (1, 0)


async def test_an_exact_repeat_is_answered_from_the_window_without_a_second_write() -> None:
    flow, publisher, metrics = _intake(recent_window_s=60)
    body = json.dumps({**GOOD, "DateLastUpdated": "2026-01-02T03:04:05Z"}).encode()
    first = await _post(flow, body)
    again = await _post(flow, body)
    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    assert len(publisher.events()) == 1
    assert metrics.registry.get_sample_value("receiver_duplicates_dropped_total") == 1


async def test_a_post_past_fastapi_still_ends_in_a_problem_document_when_a_bug_raises() -> None:
    # POSTs skip FastAPI's own stack (app.ReceiverApp); LastResort must still cover them.
    app, publisher = recording_app()
    publisher.failure = RuntimeError("a bug nobody expected")
    answer = await call(
        app, "POST", body=json.dumps(GOOD).encode(), content_type="application/json"
    )
    _problem(answer, 500, "internal-error")
    assert publisher.published == []


@pytest.mark.parametrize("topic", ["catalog.product-changes.v1", 'odd "topic" é'])
def test_the_200_body_is_the_json_of_where_kafka_put_the_event(topic: str) -> None:
    event_id = uuid.UUID("6f1c2a52-3f0e-4d7e-9a43-5c1b0d3e8f21")
    acks = [Acknowledged(topic, 2, 41), Acknowledged(topic, 2, 42)]
    expected = {
        "event_id": str(event_id),
        "topic": topic,
        "partition": 2,
        "offset": 41,
        "position": "2:42",
    }
    assert accepted_body(event_id, acks) == json.dumps(expected, separators=(",", ":")).encode()
