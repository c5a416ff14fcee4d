"""Start-up rules and the receiver's published API description (no broker needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from receiver.app import PATH, create_app
from receiver.errors import PublishFailed
from receiver.main import server_config, settings_from_env
from receiver.publisher import Acknowledged, Publisher
from receiver.settings import MIN_SECRET_BYTES, ReceiverSettings
from tests.receiver_harness import RecordingPublisher, call, recording_app
from tests.receiver_harness import settings as harness_settings
from tests.support import SECRET


def test_refuses_to_start_without_a_secret_unless_in_development_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CATALOG_RECEIVER_SECRETS", raising=False)
    with pytest.raises(ValidationError, match="no secret configured"):
        ReceiverSettings()
    assert ReceiverSettings(dev_mode=True).secrets == []


def test_secrets_come_from_the_environment_and_never_show_in_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CATALOG_RECEIVER_SECRETS", '["s3cr3t-0123456789-1", "s3cr3t-0123456789-2"]')
    settings = ReceiverSettings()
    assert [s.get_secret_value() for s in settings.secrets] == [
        "s3cr3t-0123456789-1",
        "s3cr3t-0123456789-2",
    ]
    assert "s3cr3t" not in repr(settings)


def test_openapi_describes_every_format_and_answer() -> None:
    spec = create_app(ReceiverSettings(secrets=[SecretStr("x" * 16)])).openapi()
    operation = spec["paths"][PATH]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "application/xml",
    }
    assert {"200", "401", "403", "413", "415", "422", "503"} <= set(operation["responses"])
    assert "get" in spec["paths"][PATH]


async def _call(app: Any, messages: list[dict[str, Any]], hang: bool = False) -> int:
    """One POST straight through ASGI: the body arrives as `messages`, then (if `hang`) nothing."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 5000),
        "headers": [(b"content-type", b"application/json"), (b"x-postback-token", b"x" * 16)],
    }  # fmt: skip
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if hang:
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"]) if sent else 0


async def test_a_disconnect_in_mid_body_and_a_timeout_leave_a_trace_in_the_metrics() -> None:
    settings = ReceiverSettings(secrets=[SecretStr("x" * 16)], request_timeout_s=0.2)
    app = create_app(settings)
    part = {"type": "http.request", "body": b'{"CatalogId": ', "more_body": True}
    await _call(app, [part])  # the client went away; nobody reads the answer
    assert await _call(app, [part], hang=True) == 408
    metrics = await _call_metrics(app)
    assert 'receiver_incomplete_requests_total{cause="disconnected"} 1.0' in metrics
    assert 'receiver_incomplete_requests_total{cause="timeout"} 1.0' in metrics


async def _call_metrics(app: Any) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        return (await client.get("/metrics")).text


class _SlowPublisher(Publisher):
    """Stands in for Kafka's round trip (no broker here): each write waits, then fails or is
    acknowledged. Only the receiver's own handling of the outcome is under test."""

    def __init__(self, settings: ReceiverSettings, fail: bool) -> None:
        super().__init__(settings)
        self.fail = fail
        self.writes = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]:
        self.writes += 1
        await asyncio.sleep(0.05)
        if self.fail:
            raise PublishFailed("Kafka did not acknowledge")
        return [Acknowledged(topic, 0, self.writes)]


async def _post_together(app: Any, n: int, distinct: int = 1) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        answers = await asyncio.gather(
            *(client.post(PATH, json={"CatalogId": str(i % distinct)},
                          headers={"X-Postback-Token": "x" * 16})
              for i in range(n))
        )  # fmt: skip
    return [a.status_code for a in answers]


async def test_identical_refusals_waiting_on_a_failed_write_are_never_accepted() -> None:
    settings = ReceiverSettings(secrets=[SecretStr("x" * 16)], invalid_answer="accept")
    failing = _SlowPublisher(settings, fail=True)
    assert await _post_together(create_app(settings, failing), 5) == [503] * 5
    assert failing.writes == 1  # the others waited for it, and were not kept either


async def test_without_a_repeat_window_identical_refusals_are_each_written() -> None:
    settings = ReceiverSettings(secrets=[SecretStr("x" * 16)], dead_letter_repeat_window_s=0)
    publisher = _SlowPublisher(settings, fail=False)
    assert await _post_together(create_app(settings, publisher), 5) == [422] * 5
    assert publisher.writes == 5


async def test_shutdown_with_kafka_gone_does_not_wait_for_every_tally() -> None:
    # 200 refusals, each repeated once, leave 200 tallies to write at shutdown. With Kafka gone,
    # each write waits for its time-out (10 s by default): 200 of them held the shutdown for
    # over half an hour. After the first failure the rest are counted as failed, not tried.
    settings = ReceiverSettings(secrets=[SecretStr("x" * 16)])
    publisher = _SlowPublisher(settings, fail=False)
    app = create_app(settings, publisher)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    assert await _post_together(app, 200, distinct=200) == [422] * 200
    assert await _post_together(app, 200, distinct=200) == [422] * 200  # the retries
    publisher.fail, publisher.writes = True, 0
    await lifespan.__aexit__(None, None, None)  # shutdown writes the tallies
    assert publisher.writes == 1
    metrics = await _call_metrics(app)
    assert "receiver_dead_letter_tallies_failed_total 200.0" in metrics


@pytest.mark.parametrize("secrets", ['[""]', '["short"]', '["ok-long-enough-secret", ""]'])
def test_refuses_to_start_with_an_empty_or_short_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], secrets: str
) -> None:
    monkeypatch.setenv("CATALOG_RECEIVER_SECRETS", secrets)
    with pytest.raises(SystemExit) as stopped:
        settings_from_env()
    message = str(stopped.value.code)
    assert "CATALOG_RECEIVER_SECRETS" in message
    assert f"at least {MIN_SECRET_BYTES}" in message
    assert "short" not in message.replace("or short secret", "")  # never the secret itself


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("COMPRESSION", "lz5", "'gzip'"),
        ("PORT", "0", "greater than or equal to 1"),
        ("MAX_BODY_BYTES", "-1", "greater than 0"),
        ("PRODUCE_TIMEOUT_S", "0", "greater than 0"),
        ("AUTH_HEADER", "X Token", "not an HTTP header name"),
        ("TOPIC", "bad topic", "not a Kafka topic name"),
        ("FIELD_MAP", '{"price": "Prise"}', "unknown data points ['Prise']"),
    ],
)
def test_each_wrong_setting_stops_the_start_with_a_message_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv("CATALOG_RECEIVER_SECRETS", '["a-secret-of-enough-bytes"]')
    monkeypatch.setenv(f"CATALOG_RECEIVER_{variable}", value)
    with pytest.raises(SystemExit) as stopped:
        settings_from_env()
    message = str(stopped.value.code)
    assert f"CATALOG_RECEIVER_{variable}:" in message
    assert says in message


def test_uvicorn_believes_forwarded_headers_only_from_the_trusted_proxies() -> None:
    app = FastAPI()
    alone = server_config(ReceiverSettings(secrets=[SecretStr("x" * 16)]), app)
    assert alone.proxy_headers is False  # uvicorn's default would trust 127.0.0.1
    assert alone.forwarded_allow_ips == []
    behind = server_config(
        ReceiverSettings(secrets=[SecretStr("x" * 16)], trusted_proxies=[ip_network("10.0.0.0/8")]),
        app,
    )
    assert behind.proxy_headers is True
    assert behind.forwarded_allow_ips == ["10.0.0.0/8"]


async def test_the_caller_is_the_right_most_untrusted_address_across_header_lines() -> None:
    app, _ = recording_app(allowed_networks=["203.0.113.0/24"], trusted_proxies=["10.0.0.0/8"])
    query = b"CatalogId=1&CatalogItemId=a"
    # The client sent its own line with an allowed address; the proxy appended the real one.
    forged = [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-for", b"198.51.100.66")]
    answer = await call(app, "GET", query=query, headers=forged, client=("10.0.0.5", 1))
    assert answer.status == 403
    assert "198.51.100.66" in answer.json()["detail"]
    honest = [(b"x-forwarded-for", b"198.51.100.66"), (b"x-forwarded-for", b"203.0.113.9")]
    answer = await call(app, "GET", query=query, headers=honest, client=("10.0.0.5", 1))
    assert answer.status == 200


async def test_a_non_ascii_secret_authenticates_with_its_utf8_bytes() -> None:
    secret = "clé-secrète-ünïcode-1"
    app, _ = recording_app(secrets=[SecretStr(secret)])
    query = b"CatalogId=1&CatalogItemId=a"
    token = [(b"x-postback-token", secret.encode("utf-8"))]
    answer = await call(app, "GET", query=query, headers=token, authenticated=False)
    assert answer.status == 200, answer.body
    wrong = [(b"x-postback-token", secret.encode("latin-1"))]
    answer = await call(app, "GET", query=query, headers=wrong, authenticated=False)
    assert answer.status == 401


class _Broken(RecordingPublisher):
    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]:
        raise RuntimeError("a bug nobody expected")


async def test_an_unexpected_exception_is_a_problem_document_and_never_reaches_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = harness_settings()
    app = create_app(config, _Broken(config))
    answer = await call(app, "GET", query=b"CatalogId=1&CatalogItemId=a")  # raises nothing
    assert answer.status == 500
    assert answer.content_type == "application/problem+json"
    assert answer.json()["type"].endswith("/internal-error")
    assert "a bug nobody expected" in caplog.text  # the traceback is logged
    assert "a bug nobody expected" not in answer.body.decode()


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nowhere", 404), ("PUT", PATH, 405)]
)
async def test_routing_answers_are_problem_documents(method: str, path: str, status: int) -> None:
    app, _ = recording_app()
    answer = await call(app, method, path=path)
    assert answer.status == status
    assert answer.content_type == "application/problem+json"
    assert answer.json()["status"] == status


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
async def test_a_405_allows_every_method_the_postback_path_answers(method: str) -> None:
    """Found by schemathesis on the live receiver (stop 24): the path has a POST and a GET
    route, and Starlette's 405 named only the first one's: `Allow: POST` (RFC 9110 15.5.6)."""
    app, _ = recording_app()
    answer = await call(app, method, path=PATH)
    assert answer.status == 405
    assert answer.headers[b"allow"] == b"GET, POST"


@pytest.mark.parametrize("failing", ["http.response.start", "http.response.body"])
async def test_a_200_whose_sending_fails_is_ended_and_counted_as_a_last_resort(
    failing: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The 200 of a POST is sent by the route itself (app._endpoint), not through LastResort's
    tracking of each message: a failure while sending it must still end as LastResort ends an
    answer already begun (an empty last body, no second start), logged and counted."""
    app, publisher = recording_app()
    body = json.dumps({"CatalogId": "1", "CatalogItemId": "a"}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 5000),
        "headers": [
            (b"x-postback-token", SECRET.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
        ],
    }  # fmt: skip
    messages: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)
        if message["type"] == failing and len(messages) <= 2:
            raise OSError("connection reset")

    await app(scope, receive, send)
    assert len(publisher.events()) == 1
    kinds = [m["type"] for m in messages]
    if failing == "http.response.start":
        assert kinds == ["http.response.start", "http.response.body"]
    else:
        assert kinds == ["http.response.start", "http.response.body", "http.response.body"]
    assert messages[0]["status"] == 200
    assert messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert "connection reset" in caplog.text
    metrics = await call(app, "GET", path="/metrics")
    assert b'receiver_requests_total{outcome="internal-error"} 1.0' in metrics.body
